"""Typed settings: the trainers and the inference pipeline run from a dataclass, with no command line; the fields
are the scripts' flags (one definition)."""

import dataclasses

import numpy as np
import pytest
from conftest import CLIPS, fixture_path

from opensora.pipelines.inference_flags import InferenceSettings, build_inference_parser
from opensora.train.t2v_flags import T2VTrainSettings
from opensora.train.vae_flags import VAETrainSettings, build_vae_train_parser
from opensora.utils.errors import UserError
from opensora.utils.settings import as_settings


@pytest.mark.parametrize("cls, parser", [(VAETrainSettings, build_vae_train_parser),
                                         (InferenceSettings, build_inference_parser)])
def test_fields_are_the_flags_with_their_defaults(cls, parser):
    defaults = vars(parser().parse_args([]))
    settings = cls()
    assert dataclasses.asdict(settings) == defaults
    with pytest.raises(TypeError, match="no_such_flag"):
        cls(no_such_flag=1)
    other = cls()
    lists = [name for name, value in defaults.items() if isinstance(value, list)]
    assert lists
    getattr(other, lists[0]).append("changed")
    assert dataclasses.asdict(cls()) == defaults  # list defaults are per instance


def test_as_settings_takes_an_instance_or_parsed_flags_and_nothing_else():
    parsed = build_vae_train_parser().parse_args(["--train_steps", "3"])
    assert as_settings(VAETrainSettings, parsed).train_steps == 3
    settings = VAETrainSettings(train_steps=4)
    assert as_settings(VAETrainSettings, settings) is settings
    with pytest.raises(TypeError, match="VAETrainSettings"):
        as_settings(VAETrainSettings, {"train_steps": 3})


def test_vae_training_from_settings_without_a_command_line(tmp_path):
    from opensora.train.vae_setup import VAETraining

    settings = VAETrainSettings(model_config=fixture_path("causalvae_tiny", "config.json"),
                                pretrained=fixture_path("causalvae_tiny", "diffusion_pytorch_model.safetensors"),
                                data_path=CLIPS, num_frames=5, size=32, crop_size=32, batch_size=1,
                                perceptual_weight=0, jit=False, train_steps=1, output_path=str(tmp_path))
    run = VAETraining(settings)
    info = run.train_step()
    assert run.step == 1 and np.isfinite(info["terms"]["total_loss"])


def test_t2v_training_and_inference_check_their_settings_before_building():
    from opensora.pipelines.inference import InferenceSetup
    from opensora.train.t2v_setup import T2VTraining

    with pytest.raises(UserError, match="--video_folder is required"):
        T2VTraining(T2VTrainSettings(data_file_path="no/such.csv"))
    with pytest.raises(UserError, match="--sample_method Foo"):
        InferenceSetup(InferenceSettings(sample_method="Foo"))
