import DroverCore
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The SQLite driver's files on disk: how they are created, which may be symbolic links, how a
/// replaced file is recognised, and the lock file that remembers that a store existed.
///
/// - Every file the driver creates (the store, its `-wal` and `-shm`, which SQLite creates with
///   the main file's mode, and `PATH.lock`) is created 0600 (or 0640 with `[store] file_mode`)
///   whatever the umask: the store holds every payload. A read-write open sets the same mode on
///   the files that exist, so a changed `file_mode` takes effect at the next start.
/// - The store path may be a symbolic link only with `[store] allow_symlink = true` (it is the
///   operator's choice of path); `-wal`, `-shm` and `.lock` are never followed when they are
///   links (someone else's choice: a link would make a root supervisor write through it).
/// - `PATH.lock` doubles as a marker: it is created with the store and stays when the store is
///   gone. A missing (or empty) store beside a lock file was deleted or replaced, and is not
///   created afresh: a fresh store would hand out the job ids of the lost one again.
enum StoreFiles {
  /// A file's device and inode: what `path` named when the store was opened.
  struct Identity: Hashable, Sendable {
    var device: UInt64
    var inode: UInt64
    init(_ st: stat) {
      device = UInt64(st.st_dev)
      inode = UInt64(st.st_ino)
    }
  }

  /// The identity of what `path` names now (following a final symbolic link), or nil with
  /// `errno` set.
  static func identity(of path: String) -> Identity? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    return Identity(st)
  }

  /// The identity of an open descriptor.
  static func identity(of fd: Int32) -> Identity? {
    var st = stat()
    guard fstat(fd, &st) == 0 else { return nil }
    return Identity(st)
  }

  /// True when `path` itself is a symbolic link (dangling or not).
  static func isSymlink(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
  }

  static func lockPath(_ storePath: String) -> String { storePath + ".lock" }

  /// Refuses a store whose path is a symbolic link (unless `allowSymlink`), or whose `-wal`,
  /// `-shm` or `.lock` is one (always: those paths are Drover's and SQLite's, not the
  /// operator's). With an allowed link, SQLite puts `-wal` and `-shm` beside the link's
  /// target, so those are checked there.
  static func refuseSymlinks(storePath path: String, allowSymlink: Bool) throws(StoreError) {
    var beside = path
    if isSymlink(path) {
      guard allowSymlink else {
        throw .cannotOpen(
          path: path,
          reason: "it is a symbolic link; set [store] allow_symlink = true to use it anyway, or "
            + "name the real file in [store] path")
      }
      if let real = realpath(path, nil) {
        beside = String(cString: real)
        free(real)
      }
    }
    for other in [beside + "-wal", beside + "-shm", lockPath(path)] where isSymlink(other) {
      throw .cannotOpen(
        path: path,
        reason: "\(other) is a symbolic link: the store's own files are never followed "
          + "(remove the link)")
    }
  }

  /// Creates an empty store file with `mode` (exclusive, never through a link), umask-proof, so
  /// SQLite, which creates `-wal` and `-shm` with the main file's mode, gives them `mode` too.
  /// Harmless when another process created the file meanwhile.
  /// With `throughLink` (an allowed link whose target is missing) the link is followed and its
  /// target created: `O_EXCL` never follows a link.
  static func createStoreFile(_ path: String, mode: mode_t, throughLink: Bool = false)
    throws(StoreError)
  {
    let flags =
      throughLink
      ? O_RDWR | O_CREAT | O_CLOEXEC : O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
    let fd = open(path, flags, mode)
    guard fd >= 0 else {
      if errno == EEXIST { return }
      throw .cannotOpen(path: path, reason: String(cString: strerror(errno)))
    }
    defer { close(fd) }
    guard fchmod(fd, mode) == 0 else {
      throw .cannotOpen(path: path, reason: "fchmod: \(String(cString: strerror(errno)))")
    }
  }

  /// Opens the lock file read-write without following a link, creating it 0600 (umask-proof)
  /// when missing. Returns the descriptor and whether it was created; -1 with `errno` set on
  /// failure.
  static func openLockFile(_ path: String, mode: mode_t = 0o600) -> (fd: Int32, created: Bool) {
    let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
    if fd >= 0 {
      _ = fchmod(fd, mode)
      return (fd, true)
    }
    guard errno == EEXIST else { return (-1, false) }
    return (open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC), false)
  }

  /// The store files this process has open through SQLite, by identity (with how many
  /// connections each): such a file must never be opened and closed outside SQLite (see
  /// `SQLiteSchema.inspect`).
  enum OpenFiles {
    private static let counts = Mutex<[Identity: Int]>([:])

    static func add(_ id: Identity) { counts.withLock { $0[id, default: 0] += 1 } }

    static func remove(_ id: Identity) {
      counts.withLock {
        let n = ($0[id] ?? 1) - 1
        $0[id] = n > 0 ? n : nil
      }
    }

    static func contains(_ id: Identity) -> Bool { counts.withLock { $0[id] != nil } }
  }

  /// Linux's `O_PATH` (Glibc's module leaves it out: it needs `_GNU_SOURCE`).
  static let oPath: Int32 = 0o10_000_000

  /// Gives the store's files that exist (the store, `-wal`, `-shm`, `.lock`) exactly `mode`,
  /// never through a link (the store itself may be one with `allowSymlink`). Files owned by
  /// someone else are left as they are: a shared store's mode is its owner's business.
  static func applyMode(storePath: String, mode: mode_t, allowSymlink: Bool) {
    // With an allowed link, SQLite's `-wal` and `-shm` live beside the link's target.
    var beside = storePath
    if allowSymlink, isSymlink(storePath), let real = realpath(storePath, nil) {
      beside = String(cString: real)
      free(real)
    }
    let files = [
      (storePath, allowSymlink), (beside + "-wal", false), (beside + "-shm", false),
      (lockPath(storePath), false),
    ]
    for (file, follow) in files {
      // O_PATH, never a readable descriptor: closing an ordinary descriptor of a file drops
      // every POSIX lock this process holds on it, SQLite's `-shm` locks among them (another
      // process then thinks itself the first, truncates `-shm` under our mapping: SIGBUS).
      // Closing an O_PATH descriptor does not. chmod goes through /proc/self/fd, which names
      // exactly the file opened (fchmod refuses O_PATH descriptors).
      let fd = open(file, oPath | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW))
      guard fd >= 0 else { continue }
      var st = stat()
      if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_uid == geteuid(),
        st.st_mode & 0o777 != mode
      {
        _ = chmod("/proc/self/fd/\(fd)", mode)
      }
      close(fd)
    }
  }

  /// The lock file's text: the holder's pid alone on the first line (`-` when none), then a
  /// note for the operator naming the store and its highest job id so far.
  static func lockText(storePath: String, pid: Int32?, highestID: Int64?) -> String {
    (pid.map(String.init) ?? "-") + "\n"
      + "Drover store lock and marker for \(storePath)\n"
      + "highest job id: \(highestID.map(String.init) ?? "unknown")\n"
      + "Delete this file only together with the store: while it exists, a missing store is "
      + "not created afresh.\n"
  }

  /// Replaces the content of the open lock file.
  static func writeLock(_ fd: Int32, _ text: String) {
    _ = ftruncate(fd, 0)
    _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
  }

  /// Creates the lock file as a marker beside a store that has none yet (a new store, or one
  /// made by an older Drover). Never touches an existing lock file. Best effort: a store in a
  /// read-only folder still opens.
  static func ensureMarker(storePath: String, highestID: Int64?) {
    let path = lockPath(storePath)
    if access(path, F_OK) == 0 { return }
    let (fd, created) = openLockFile(path)
    guard fd >= 0 else { return }
    defer { close(fd) }
    if created { writeLock(fd, lockText(storePath: storePath, pid: nil, highestID: highestID)) }
  }

  /// The lock file's content (its first 4 KiB), or nil when there is none.
  static func readLock(storePath: String) -> String? {
    let fd = open(lockPath(storePath), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buf = [UInt8](repeating: 0, count: 4096)
    let n = pread(fd, &buf, buf.count, 0)
    return String(decoding: buf[0..<max(0, n)], as: UTF8.self)
  }

  /// The pid on the lock file's first line, as text ("" when none).
  static func holderPID(inLock text: String) -> String {
    String(text.prefix { $0 != "\n" }.filter(\.isNumber))
  }

  /// Throws when the store at `path` is missing or empty while its lock file says a store
  /// existed: creating it would reuse the lost store's job ids.
  static func refuseLostStore(_ path: String) throws(StoreError) {
    guard let lock = readLock(storePath: path) else { return }
    let highest =
      lock.split(separator: "\n").first { $0.hasPrefix("highest job id: ") }
      .map { String($0.dropFirst("highest job id: ".count)) } ?? "unknown"
    throw .cannotOpen(
      path: path,
      reason: "the store is missing or empty, but its lock file \(lockPath(path)) says a store "
        + "existed here (highest job id \(highest)): it was deleted or replaced. A new store "
        + "would hand out the same job ids again. Restore the file from a backup; or, if a new "
        + "empty store is intended, delete \(lockPath(path)) and retry")
  }
}
