#if canImport(Glibc)
  import Glibc
#endif

/// Creating the folders the config names (store, control socket) when missing.
enum Directories {
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
