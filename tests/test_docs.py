"""The reference pages stay in step with the code."""

from __future__ import annotations

import json
from pathlib import Path

from bot.settings import BotSettings
from survey.questions import QuestionSet
from survey.settings import SurveySettings
from web.settings import WebSettings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_configuration_page_lists_every_setting() -> None:
    page = (DOCS / "configuration.md").read_text()
    for name in [
        *SurveySettings.model_fields,
        *BotSettings.model_fields,
        *WebSettings.model_fields,
    ]:
        assert f"`PULSE_{name.upper()}`" in page, name


def test_published_schema_is_the_models_schema() -> None:
    published = json.loads((DOCS / "question-set.schema.json").read_text())
    assert published == QuestionSet.model_json_schema(by_alias=True), (
        "run: pulse questions schema > docs/question-set.schema.json"
    )
