"""The web UI (python -m opensora.serve) as a user meets it: the real server on a free local port with the bundled
demo model, driven through gradio_client and from a real headless Chromium (selenium); its frames equal
infer_diffusion.py's for the same inputs; a bad request is a message, not a dead server."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from conftest import REPO, run_script

from opensora.dataset.video_io import read_video_clip

PROMPT = "a red circle moves from left to right"
ARTIFACTS = os.environ.get("OPENSORA_TEST_ARTIFACTS", os.path.join(REPO, "outputs", "test_artifacts"))
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    out = tmp_path_factory.mktemp("serve")
    port = free_port()
    log = open(out / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "opensora.serve", "--port", str(port), "--output_path",
                             str(out / "videos")], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": REPO})
    url = f"http://127.0.0.1:{port}/"
    started = time.time()
    while time.time() - started < 120:  # the README promises the page in under a minute on a fresh clone
        if proc.poll() is not None:
            pytest.fail(f"server exited: {open(out / 'server.log').read()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(1)
    else:
        proc.kill()
        pytest.fail(f"no page after 120 s: {open(out / 'server.log').read()[-3000:]}")
    yield {"url": url, "out": out, "seconds_to_page": time.time() - started, "port": port}
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_the_server_listens_on_this_machine_only(server):
    assert server["seconds_to_page"] < 60, server["seconds_to_page"]
    others = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    others = [a for a in others if "." in a and not a.startswith("127.")]
    if not others:
        pytest.skip("no address other than loopback here")
    with socket.socket() as s:  # not on the machine's other addresses
        assert s.connect_ex((others[0], server["port"])) != 0


def test_api_gives_the_command_lines_frames_and_survives_bad_requests(server, tmp_path):
    from gradio_client import Client

    client = Client(server["url"], verbose=False)
    bad = client.predict("", "auto", "PNDM", 10, 1.0, 42, 17, 64, 64, api_name="/generate")
    assert bad[0] is None and bad[2] == "error: prompt: type what the video should show"
    bad = client.predict(PROMPT, "auto", "PNDM", 2, 1.0, 42, 17, 64, 64, api_name="/generate")
    assert bad[2].startswith("error: --sampling_steps 2: PNDM needs at least 4"), bad[2]
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Nonesuch is not in the list of choices"):  # gradio checks its dropdown
        client.predict(PROMPT, "auto", "Nonesuch", 10, 1.0, 42, 17, 64, 64, api_name="/generate")
    video, download, status, gallery = client.predict(PROMPT, "auto", "PNDM", 10, 1.0, 7, 17, 64, 64,
                                                      api_name="/generate")
    assert status.startswith("done:") and download and len(gallery) == 1, status
    cli = run_script(["infer_diffusion.py", "--config", "examples/toy_world/configs/t2v_demo.yaml", "--captions",
                      PROMPT, "--sampling_steps", "10", "--seed", "7", "--output_path", str(tmp_path)])
    assert cli.returncode == 0, cli.stderr[-2000:]
    (run,) = os.listdir(tmp_path)
    (cli_video,) = [f for f in os.listdir(tmp_path / run) if f.endswith(".mp4")]
    served = read_video_clip(video if isinstance(video, str) else video["video"], 17, 1)
    np.testing.assert_array_equal(served, read_video_clip(str(tmp_path / run / cli_video), 17, 1))
    # two requests at once queue and both finish
    jobs = [client.submit(PROMPT, "auto", "DDPM", 4, 1.0, seed, 17, 64, 64, api_name="/generate") for seed in (1, 2)]
    assert all(job.result(timeout=300)[2].startswith("done:") for job in jobs)


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                    reason="no chromium + chromedriver (apt-get install chromium chromium-driver; .ci/run does)")
def test_a_prompt_typed_in_a_browser_yields_a_video(server, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1400"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(server["url"])
        wait = WebDriverWait(driver, 120)
        prompt = wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#prompt textarea")))
        prompt.send_keys(PROMPT)
        steps = driver.find_element(By.CSS_SELECTOR, "#steps input")
        steps.clear()
        steps.send_keys("10")
        driver.find_element(By.CSS_SELECTOR, "#generate").click()
        video = wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#result video")))
        wait.until(lambda d: video.get_attribute("src"))
        assert video.get_attribute("src").startswith("http"), video.get_attribute("src")
        wait.until(lambda d: "done:" in d.find_element(By.CSS_SELECTOR, "#status").text)
        os.makedirs(ARTIFACTS, exist_ok=True)
        shot = os.path.join(ARTIFACTS, "serve_page.png")
        driver.save_screenshot(shot)
        assert os.path.getsize(shot) > 10_000
    finally:
        driver.quit()
