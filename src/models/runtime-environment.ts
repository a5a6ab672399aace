/**
 * Loaded before onnxruntime-node: its Linux build sends usage telemetry and leaves a /tmp/mat-debug-<pid>.log file
 * behind in every process unless ORT_DISABLE_TELEMETRY is set. A service that promises to write nothing to disk and
 * to send nothing anywhere turns it off; an operator can still set the variable explicitly.
 */
process.env.ORT_DISABLE_TELEMETRY ??= '1';
