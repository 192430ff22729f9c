import CDroverShim

/// glibc allocator tuning.
public enum Malloc {
  /// Raises glibc's heap trim threshold (64 MiB) and top pad (1 MiB) with mallopt, so a heap
  /// that grows and shrinks by a few hundred KiB per SQLite statement stops calling brk each
  /// time (measured: doubles statement throughput). Call once at supervisor start-up, before
  /// heavy allocation. It trades a little retained memory for speed; workers need not call it.
  public static func tune() { drover_tune_malloc() }
}
