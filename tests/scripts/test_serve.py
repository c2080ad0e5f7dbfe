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


def start_server(out, *extra):
    port = free_port()
    log = open(out / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "opensora.serve", "--port", str(port), "--output_path",
                             str(out / "videos"), *extra], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
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
    return proc, log, {"url": url, "out": out, "seconds_to_page": time.time() - started, "port": port}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, log, info = start_server(tmp_path_factory.mktemp("serve"))
    yield info
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
    bad = client.predict("", "auto", "PNDM", 10, 1.0, 42, 17, 64, 64, None, api_name="/generate")
    assert bad[0] is None and bad[2] == "error: prompt: type what the video should show"
    bad = client.predict(PROMPT, "auto", "PNDM", 2, 1.0, 42, 17, 64, 64, None, api_name="/generate")
    assert bad[2].startswith("error: --sampling_steps 2: PNDM needs at least 4"), bad[2]
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Nonesuch is not in the list of choices"):  # gradio checks its dropdown
        client.predict(PROMPT, "auto", "Nonesuch", 10, 1.0, 42, 17, 64, 64, None, api_name="/generate")
    video, download, status, gallery = client.predict(PROMPT, "auto", "PNDM", 10, 1.0, 7, 17, 64, 64, None,
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
    jobs = [client.submit(PROMPT, "auto", "DDPM", 4, 1.0, seed, 17, 64, 64, None, api_name="/generate")
            for seed in (1, 2)]
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


@pytest.fixture(scope="module")
def i2v_server(tmp_path_factory):
    """The server over a tiny image-to-video stack (the inpaint fixture's DiT, tiny mT5 and WF-VAE)."""
    import json

    from conftest import fixture_path
    from original_weights import original_state
    from safetensors.numpy import save_file

    out = tmp_path_factory.mktemp("serve_i2v")
    (out / "inpaint.json").write_text(json.dumps(json.load(open(fixture_path("v1_3_inpaint", "cases.json")))
                                                 ["inpaint_config"]))
    save_file(original_state("inpaint", "v1_3_inpaint"), str(out / "inpaint.safetensors"))
    (out / "i2v.yaml").write_text("\n".join([
        f"model_config: {out / 'inpaint.json'}", f"checkpoint: {out / 'inpaint.safetensors'}",
        f"vae_config: {fixture_path('wfvae_tiny', 'ln_release')}", 'vae_checkpoint: ""',
        f"t5_model_dir: {fixture_path('mt5_tiny', 'hf')}", "max_sequence_length: 32", "num_frames: 9",
        "height: 48", "width: 64", "crop_for_hw: True", "sample_method: EulerAncestralDiscrete",
        "prediction_type: v_prediction", "rescale_betas_zero_snr: True", "sampling_steps: 3", "seed: 11", ""]))
    proc, log, info = start_server(out, "--config", str(out / "i2v.yaml"))
    info["config"] = str(out / "i2v.yaml")
    yield info
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_image_to_video_takes_an_uploaded_first_frame_and_matches_the_cli(i2v_server, tmp_path):
    from conftest import fixture_path
    from gradio_client import Client, handle_file

    image = fixture_path("v1_3_inpaint", "cond_first.png")
    client = Client(i2v_server["url"], verbose=False)
    missing = client.predict("an astronaut smiles", "auto", "EulerAncestralDiscrete", 3, 7.5, 11, 9, 48, 64, None,
                             api_name="/generate")
    assert missing[2] == "error: first frame: upload the image the video starts from"
    video, _, status, _ = client.predict("an astronaut smiles", "auto", "EulerAncestralDiscrete", 3, 7.5, 11, 9, 48,
                                         64, handle_file(image), api_name="/generate")
    assert status.startswith("done:"), status
    cli = run_script(["infer_diffusion.py", "--config", i2v_server["config"], "--captions", "an astronaut smiles",
                      "--conditional_pixel_values_path", image, "--output_path", str(tmp_path)])
    assert cli.returncode == 0, cli.stderr[-2000:]
    (run,) = os.listdir(tmp_path)
    (cli_video,) = [f for f in os.listdir(tmp_path / run) if f.endswith(".mp4")]
    import imageio.v2 as imageio  # decord: 64-wide frames are fine, but read both the same way

    def frames(path):
        return np.stack(list(imageio.get_reader(path).iter_data()))

    np.testing.assert_array_equal(frames(video if isinstance(video, str) else video["video"]),
                                  frames(str(tmp_path / run / cli_video)))
