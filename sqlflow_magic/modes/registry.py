"""Mode -> handler."""

from __future__ import annotations

from sqlflow_magic.modes.append import AppendHandler
from sqlflow_magic.modes.base import ModeHandler
from sqlflow_magic.modes.incremental import IncrementalHandler
from sqlflow_magic.modes.replace import ReplaceHandler
from sqlflow_magic.modes.upsert import UpsertHandler
from sqlflow_magic.syntax.spec import Mode

HANDLERS: dict[Mode, ModeHandler] = {
    Mode.REPLACE: ReplaceHandler(),
    Mode.APPEND: AppendHandler(),
    Mode.UPSERT: UpsertHandler(),
    Mode.INCREMENTAL: IncrementalHandler(),
}
