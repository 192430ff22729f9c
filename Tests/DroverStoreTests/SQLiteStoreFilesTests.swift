import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
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

  /// The POSIX locks this process holds on `path` (from /proc/locks).
  static func posixLocks(on path: String) throws -> [String] {
    var st = stat()
    #expect(stat(path, &st) == 0)
    let text = try String(contentsOfFile: "/proc/locks", encoding: .utf8)
    let inode = ":\(st.st_ino) "
    return text.split(separator: "\n").map(String.init).filter {
      $0.contains(" POSIX ") && $0.contains(" \(getpid()) ") && $0.contains(inode)
    }
  }

  /// Opening another connection to a store this process already has open (the supervisor's
  /// reader beside its writer), or setting the files' mode, keeps the process's SQLite locks:
  /// a descriptor opened and closed outside SQLite would drop them all, and then another
  /// process could truncate `-shm` under our mapping (SIGBUS, seen with two racing CLIs) or
  /// take the file exclusively and remove the WAL.
  @Test func openingTheStoreAgainKeepsThisProcesssLocks() throws {
    let dir = try TempDirectory()
    let path = dir.file("s.db")
    let writer = try SQLiteStore(path: path)
    _ = try writer.enqueue([Self.job()])
    _ = try writer.stats()
    let before = (try Self.posixLocks(on: path), try Self.posixLocks(on: path + "-shm"))
    #expect(!before.0.isEmpty && !before.1.isEmpty, "SQLite holds its shared locks")
    let reader = try SQLiteStore(readOnlyPath: path)
    _ = try reader.stats()
    let again = try SQLiteStore(path: path, fileMode: 0o640)
    _ = try again.stats()
    #expect(try !Self.posixLocks(on: path).isEmpty, "the database file's shared lock is kept")
    #expect(try !Self.posixLocks(on: path + "-shm").isEmpty, "the -shm lock is kept")
    _ = try writer.enqueue([Self.job()])
  }
}
