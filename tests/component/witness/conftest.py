import pytest
from loguru import logger


@pytest.fixture
def caplog_lines():
    """A callable returning the log messages (loguru) written since the test started."""
    lines = []
    sink = logger.add(lines.append, format="{message}")
    yield lambda: [str(line).strip() for line in lines]
    logger.remove(sink)
