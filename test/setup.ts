// Loaded by mocha before any test: keep component JSON logs off the test reporter's output.
process.env.EDGESHIFT_LOG_LEVEL ??= 'silent';
