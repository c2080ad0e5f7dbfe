"""Typed settings for the pipelines and trainers, derived from the flags that define them once.

A script's parser is the single definition of its options (name, type, default, help); `settings_class` turns it
into a dataclass, so a library user builds a run without a command line:

    from opensora.train.vae_setup import VAETraining, VAETrainSettings
    run = VAETraining(VAETrainSettings(model_config="path/to/config.json", data_path="clips", train_steps=10))

and a script builds the same object from its parsed flags (`Settings.from_namespace(args)`). Unknown field names
are a TypeError at construction, not an AttributeError deep in a run.
"""

import argparse
import copy
import dataclasses


def _field_type(action):
    if action.type is not None:
        return action.type
    if isinstance(action.default, bool) or isinstance(action, (argparse._StoreTrueAction,
                                                              argparse._StoreFalseAction)):
        return bool
    return type(action.default) if action.default is not None else object


def settings_class(name, parser, doc=""):
    """A dataclass with one field per flag of `parser` (its dest, type and default; lists copied per instance)."""
    fields = []
    for action in parser._actions:
        if action.dest in ("help", argparse.SUPPRESS) or action.default is argparse.SUPPRESS:
            continue
        default = action.default
        if isinstance(default, (list, dict)):
            field = dataclasses.field(default_factory=lambda value=default: copy.deepcopy(value))
        else:
            field = dataclasses.field(default=default)
        fields.append((action.dest, _field_type(action), field))
    cls = dataclasses.make_dataclass(name, fields)
    cls.__doc__ = doc or f"{name}: the flags of its script as fields (see the script's -h for each one's help)."
    cls.from_namespace = classmethod(lambda c, namespace: c(**vars(namespace)))
    return cls


def as_settings(cls, settings):
    """`settings` as an instance of `cls`: an instance passes through, an argparse Namespace is converted."""
    if isinstance(settings, cls):
        return settings
    if isinstance(settings, argparse.Namespace):
        return cls.from_namespace(settings)
    raise TypeError(f"expected {cls.__name__} (or an argparse.Namespace of its flags), got {type(settings).__name__}")
