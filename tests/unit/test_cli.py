"""The training CLI's configuration: recipes merged over the defaults, then --set overrides."""

from __future__ import annotations

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


def test_shipped_recipes_validate_and_chain():
    """The recipes README documents: a typo would otherwise surface an hour into a run."""
    copy = build_config(["configs/tiny_copy.yaml"], [])
    tools = build_config(["configs/tiny_tools.yaml"], [])
    assert copy.model.model_path == "models/tiny-qwen2"
    assert copy.data.dataset_path.startswith(copy.output.dir + "/")  # a dataset root
    # Stage 2 starts from stage 1's export, which must be a loadable root.
    assert tools.model.model_path.startswith(copy.output.dir + "/")
    assert tools.model.allowed_roots == [copy.output.dir]
    more = build_config(["configs/tiny_tools_more.yaml"], [])
    # Stage 3 starts from stage 2's export, on other rows with the same held-out cut.
    assert more.model.model_path.startswith(tools.output.dir + "/")
    assert more.model.allowed_roots == [tools.output.dir]
    assert more.data.seed != tools.data.seed
    assert more.data.holdout_seed == tools.data.seed and tools.data.holdout_seed is None
    words = build_config(["configs/tiny_words.yaml"], [])
    last = build_config(["configs/tiny_tools_words.yaml"], [])
    # Stage 4 drills stage 3's export on its own dataset; stage 5 takes tool rows again from
    # stage 4's export, with rows of a third seed and still the same held-out cut.
    assert words.model.model_path.startswith(more.output.dir + "/")
    assert words.model.allowed_roots == [more.output.dir]
    assert words.data.dataset_path.startswith(words.output.dir + "/")
    assert last.model.model_path.startswith(words.output.dir + "/")
    assert last.model.allowed_roots == [words.output.dir]
    assert last.data.seed not in (tools.data.seed, more.data.seed)
    assert last.data.holdout_seed == tools.data.seed
    for stage in (tools, more, last):
        assert stage.data.dataset_path is None  # generated rows, with a held-out validation side
        assert round(stage.data.num_generated_examples * stage.data.validation_split) == (
            stage.training.eval_max_examples
        )
