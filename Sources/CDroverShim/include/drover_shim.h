#ifndef DROVER_SHIM_H
#define DROVER_SHIM_H
/// Raise glibc's heap trim threshold and top pad so SQLite's per-statement allocations do not
/// grow and shrink the heap on every call (measured: halves statement throughput otherwise).
void drover_tune_malloc(void);
#endif
