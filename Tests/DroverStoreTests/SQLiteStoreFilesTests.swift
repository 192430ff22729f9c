import DroverCore
import DroverStore
import DroverTestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The store's files: deletion and replacement, lost stores, corruption, links, permissions.
@Suite struct SQLiteStoreFilesTests {
  static func job() -> EnqueueParams { EnqueueParams(type: "t", payload: "{}") }

  @Test func aDeletedOrReplacedStoreIsNoticed() throws {
    let dir = try TempDirectory()
    let path = dir.file("s.db")
    let store = try SQLiteStore(path: path)
    _ = try store.enqueue([Self.job()])
    try store.checkStorage()
    #expect(rename(path, path + ".moved") == 0)
    #expect(throws: StoreError.self) { try store.checkStorage() }
    #expect(rename(path + ".moved", path) == 0)
    try store.checkStorage()
  }

  @Test func aLostStoreIsNotCreatedAfresh() throws {
    let dir = try TempDirectory()
    let path = dir.file("s.db")
    do {
      let store = try SQLiteStore(path: path)
      _ = try store.enqueue([Self.job()])
    }
    for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
    #expect(throws: StoreError.self) { _ = try SQLiteStore(path: path) }
    unlink(path + ".lock")
    _ = try SQLiteStore(path: path)
  }

  @Test func filesAre0600AndLinksAreRefused() throws {
    let dir = try TempDirectory()
    let path = dir.file("s.db")
    let store = try SQLiteStore(path: path)
    let owner = try store.openSession(SessionParams(name: "t", pid: getpid(), lease: .seconds(9)))
    for suffix in ["", "-wal", "-shm", ".lock"] {
      var st = stat()
      #expect(stat(path + suffix, &st) == 0)
      #expect(st.st_mode & 0o777 == 0o600, "\(suffix)")
    }
    try store.closeSession(owner)
    #expect(symlink(path, dir.file("link.db")) == 0)
    #expect(throws: StoreError.self) { _ = try SQLiteStore(path: dir.file("link.db")) }
    let victim = dir.file("victim")
    #expect(symlink(victim, dir.file("other.db.lock")) == 0)
    #expect(throws: StoreError.self) { _ = try SQLiteStore(path: dir.file("other.db")) }
    #expect(access(victim, F_OK) != 0)
  }

  @Test func anOverwrittenStoreFailsTheIntegrityCheck() throws {
    let dir = try TempDirectory()
    let path = dir.file("s.db")
    do {
      let store = try SQLiteStore(path: path)
      _ = try store.enqueue((0..<3000).map { _ in Self.job() })
    }
    var st = stat()
    #expect(stat(path, &st) == 0)
    let fd = open(path, O_WRONLY)
    let garbage = [UInt8](repeating: 0xA5, count: 16384)
    _ = pwrite(fd, garbage, garbage.count, off_t(st.st_size / 2))
    close(fd)
    let store = try SQLiteStore(path: path)
    #expect(throws: StoreError.self) { try store.checkIntegrity() }
  }
}
