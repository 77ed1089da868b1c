"""The training CLI's configuration: recipes merged over the defaults, then --set overrides."""

from __future__ import annotations

from itertools import pairwise

import pytest
import yaml

from configs.store import ConfigError
from train_app.cli import build_config, parse_overrides


def test_set_parses_dotted_paths_and_yaml_values():
    assert parse_overrides(["training.num_epochs=5", "training.target_modules=[q_proj]"]) == {
        "training": {"num_epochs": 5, "target_modules": ["q_proj"]}
    }
    with pytest.raises(ConfigError, match="section.field=value"):
        parse_overrides(["training.num_epochs"])


def test_recipe_then_set_override_the_defaults(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"training": {"method": "full", "num_epochs": 7}}))
    config = build_config([str(recipe)], ["training.num_epochs=9"])
    assert config.training.method == "full"
    assert config.training.num_epochs == 9
    assert config.tools.timeout_s == 10.0  # untouched defaults stay


def test_invalid_override_names_the_field():
    with pytest.raises(ConfigError, match=r"training\.batch_size"):
        build_config([], ["training.batch_size=many"])
    # Every generated turn without a call would leave nothing to learn about calling tools.
    with pytest.raises(ConfigError, match=r"data\.no_tool_share"):
        build_config([], ["data.no_tool_share=1.0"])


# The stages of the shipped model's recipe, in README order: copy drills, then tool rows, with
# word drills between them.
SHIPPED_STAGES = (
    "tiny_copy", "tiny_tools", "tiny_tools_more", "tiny_words", "tiny_tools_words",
    "tiny_tools_open", "tiny_words_again", "tiny_tools_again", "tiny_words_third",
    "tiny_tools_fillers",
)  # fmt: skip


def test_shipped_recipes_validate_and_chain():
    """The recipes README documents: a typo would otherwise surface an hour into a run."""
    stages = [build_config([f"configs/{name}.yaml"], []) for name in SHIPPED_STAGES]
    assert stages[0].model.model_path == "models/tiny-qwen2"
    for before, stage in pairwise(stages):
        # Each stage starts from the one before's export, which must be a loadable root.
        assert stage.model.model_path.startswith(before.output.dir + "/")
        assert stage.model.allowed_roots == [before.output.dir]
    drills = [stage for stage in stages if stage.data.dataset_path is not None]
    tools = [stage for stage in stages if stage.data.dataset_path is None]
    assert len(drills) == 4 and len(tools) == 6
    for stage in drills:
        assert stage.data.dataset_path.startswith(stage.output.dir + "/")  # a dataset root
    # Tool stages draw fresh rows (each its own seed) under the first one's held-out cut.
    assert len({stage.data.seed for stage in tools}) == len(tools)
    assert tools[0].data.holdout_seed is None
    assert all(stage.data.holdout_seed == tools[0].data.seed for stage in tools[1:])
    for stage in tools:
        # generated rows, with a held-out validation side the job evaluates in full
        assert round(stage.data.num_generated_examples * stage.data.validation_split) == (
            stage.training.eval_max_examples
        )
