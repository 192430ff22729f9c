import DroverCore

#if canImport(Glibc)
  import Glibc
#endif

/// Creating the folders the config names (store, control socket) when missing.
enum Directories {
  /// The folders of the store file and the control socket, for commands that start a
  /// supervisor.
  static func makeParents(for config: DroverConfig) throws(CLIError) {
    try makeParents(of: config.store.path)
    try makeParents(of: config.control.socket)
  }

  static func makeParents(of path: String) throws(CLIError) {
    var prefix = ""
    let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
    for (i, part) in parts.enumerated() {
      prefix += (i == 0 ? "" : "/") + part
      guard !part.isEmpty, part != ".", part != ".." else { continue }
      var st = stat()
      if stat(prefix, &st) == 0 { continue }
      if mkdir(prefix, 0o755) != 0, errno != EEXIST {
        throw CLIError("cannot create \(prefix): \(String(cString: strerror(errno)))")
      }
    }
  }
}
