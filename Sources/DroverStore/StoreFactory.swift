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

  /// Opens the store of `config`: the PostgreSQL database at `config.url` when set, else the
  /// SQLite file at `config.path`.
  ///
  /// - Parameters:
  ///   - access: `.readWrite` creates and migrates the file when needed; `.readOnly` opens an
  ///     existing, current one and never writes.
  ///   - busyTimeout: how long a call waits for another process's lock before `.busy`.
  ///   PostgreSQL: `.readWrite` creates or migrates the schema; `.readOnly` needs a current one
  ///   and opens a read-only connection. `busyTimeout` does not apply (the server waits).
  /// - Throws: what the driver's open throws (`.cannotOpen` for a missing file read-only,
  ///   `.notADroverDatabase`, `.unavailable` for a server that cannot be reached, …).
  public static func open(
    _ config: StoreConfig, access: Access = .readWrite, busyTimeout: Duration = .seconds(10)
  ) throws(StoreError) -> any JobStore {
    if let url = config.url {
      let store = try PostgresStore(url: url, readOnly: access == .readOnly)
      store.maxPayload = config.maxPayload
      return store
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

/// PostgreSQL URLs as they may be shown.
public enum PostgresURL {
  /// The URL without its password (`postgres://user:secret@host/db` → `postgres://user@host/db`):
  /// URLs end up in logs.
  public static func redacted(_ url: String) -> String { PGConnection.redacted(url) }
}
