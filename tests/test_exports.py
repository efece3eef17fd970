"""The public API is small and deliberate."""

import trigger_scaffold


def test_exported_names() -> None:
    assert sorted(trigger_scaffold.__all__) == [
        "Answers",
        "Catalog",
        "Pattern",
        "Trigger",
        "TriggerKind",
        "TriggerScaffoldError",
        "UsageError",
        "__version__",
        "load_catalog",
    ]
    for name in trigger_scaffold.__all__:
        assert hasattr(trigger_scaffold, name)
