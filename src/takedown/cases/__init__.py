"""Reports and cases, pure: vocabulary, report validation, triage policy, deadline clocks, the
case state machine and statements of reasons. No web and no database imports."""
