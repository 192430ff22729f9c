#if canImport(Glibc)
  import Glibc
#endif

/// Whole-file reads without Foundation, for `enqueue --batch FILE|-`.
enum FileInput {
  /// The bytes of `path`, or of stdin when `path` is `-`. A line longer than `maxLine` bytes
  /// (without its newline) stops the read with an error naming its number: reading
  /// `/dev/zero` or a runaway pipe must fail fast, not fill memory.
  static func readAll(_ path: String, maxLine: Int = .max) throws(CLIError) -> [UInt8] {
    let name = path == "-" ? "stdin" : path
    let fd = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw CLIError("cannot read \(path): \(errorText(errno))") }
    defer { if fd != 0 { close(fd) } }
    var bytes: [UInt8] = []
    var st = stat()
    if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
      throw CLIError("cannot read \(path): it is a directory")
    }
    if st.st_size > 0 { bytes.reserveCapacity(Int(st.st_size)) }
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    // The current line's number (1-based) and the length read of it so far.
    var line = 1
    var length = 0
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n == 0 { break }
      if n < 0 {
        if errno == EINTR { continue }
        throw CLIError("cannot read \(name): \(errorText(errno))")
      }
      let tooLong = chunk.withUnsafeBufferPointer { b -> Bool in
        for k in 0..<n {
          if b[k] == 0x0A {
            line += 1
            length = 0
          } else {
            length += 1
            if length > maxLine { return true }
          }
        }
        return false
      }
      if tooLong {
        throw CLIError(
          "line \(line) of \(name) is longer than \(maxLine) bytes (the limit is "
            + "store.max_payload plus 64 KiB); nothing was enqueued")
      }
      bytes.append(contentsOf: chunk[0..<n])
    }
    return bytes
  }

  /// The lines of `bytes` split at `\n` (a trailing `\r` dropped), with their 1-based numbers;
  /// blank lines are left out.
  static func lines(_ bytes: [UInt8]) -> [(number: Int, text: ArraySlice<UInt8>)] {
    var result: [(number: Int, text: ArraySlice<UInt8>)] = []
    var start = 0
    var number = 0
    func add(_ end: Int) {
      number += 1
      var line = bytes[start..<end]
      if line.last == 0x0D { line = line.dropLast() }
      if line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) {
        result.append((number, line))
      }
    }
    var i = 0
    while i < bytes.count {
      if bytes[i] == 0x0A {
        add(i)
        start = i + 1
      }
      i += 1
    }
    if start < bytes.count { add(bytes.count) }
    return result
  }

  /// `strerror` as a Swift string.
  static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
}
