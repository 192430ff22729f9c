public import DroverCore

/// Opens the store a `[store]` config names: the one place a driver is chosen.
public enum StoreFactory {
  /// What the caller will do with the store.
  public enum Access: Sendable, Hashable {
    /// Read and write; the store is created (with its schema) when missing.
    case readWrite
    /// Reads only, on a connection of its own (the supervisor's off-loop reader thread). The
    /// store must exist already; every write method throws `.readOnly`.
    case readOnly
  }

  /// Opens the store of `config`: the SQLite file at `config.path` (a PostgreSQL `url` is not
  /// supported by this build).
  ///
  /// - Parameters:
  ///   - access: `.readWrite` creates and migrates the file when needed; `.readOnly` opens an
  ///     existing, current one and never writes.
  ///   - busyTimeout: how long a call waits for another process's lock before `.busy`.
  /// - Throws: `.invalidInput` naming `store.url` when it asks for a driver this build lacks;
  ///   otherwise what the driver's open throws (`.cannotOpen` for a missing file read-only,
  ///   `.notADroverDatabase`, …).
  public static func open(
    _ config: StoreConfig, access: Access = .readWrite, busyTimeout: Duration = .seconds(10)
  ) throws(StoreError) -> any JobStore {
    if config.url != nil {
      throw .invalidInput("store.url: PostgreSQL stores are not supported by this build")
    }
    switch access {
    case .readWrite:
      let store = try SQLiteStore(
        path: config.path, synchronous: config.synchronous, busyTimeout: busyTimeout,
        allowSymlink: config.allowSymlink, fileMode: config.fileMode)
      store.maxPayload = config.maxPayload
      return store
    case .readOnly:
      return try SQLiteStore(
        readOnlyPath: config.path, busyTimeout: busyTimeout, allowSymlink: config.allowSymlink)
    }
  }
}
