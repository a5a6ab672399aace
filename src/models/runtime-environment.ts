/**
 * Loaded by the main thread before any inference worker starts: onnxruntime-node's Linux build sends usage telemetry
 * and leaves a /tmp/mat-debug-<pid>.log file behind in every process unless ORT_DISABLE_TELEMETRY is set in the
 * process environment (a worker's process.env is a copy the native library never sees). A service that promises to
 * write nothing to disk and to send nothing anywhere turns it off; an operator can still set the variable.
 */
process.env.ORT_DISABLE_TELEMETRY ??= '1';
