import CDroverShim

#if canImport(Glibc)
  import Glibc
#endif

/// The controlling terminal of a full-screen view (`drover top`): raw keys, size, redraw.
public final class Terminal {
  private let fd: Int32
  private var saved = termios()
  private var raw = false

  /// A terminal on `fd` (standard input), or nil when it is not one.
  public init?(fd: Int32 = 0) {
    guard isatty(fd) == 1 else { return nil }
    self.fd = fd
  }

  deinit { restore() }

  /// Keys arrive one by one, unechoed; Ctrl-C arrives as byte 3 (no signal), so the view can
  /// restore the terminal before it exits.
  public func enterRawMode() {
    guard !raw, tcgetattr(fd, &saved) == 0 else { return }
    var t = saved
    t.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG)
    t.c_cc.6 = 1  // VMIN
    t.c_cc.5 = 0  // VTIME
    _ = tcsetattr(fd, TCSANOW, &t)
    raw = true
    Terminal.write("\u{1B}[?25l\u{1B}[2J")  // hide the cursor, clear
  }

  /// Puts the terminal back as it was (cursor shown, modes restored). Harmless twice.
  public func restore() {
    guard raw else { return }
    _ = tcsetattr(fd, TCSANOW, &saved)
    raw = false
    Terminal.write("\u{1B}[?25h\n")
  }

  /// Columns and rows, or 80 × 24 when the size cannot be had.
  public var size: (columns: Int, rows: Int) {
    var c: Int32 = 0
    var r: Int32 = 0
    guard drover_terminal_size(1, &c, &r) == 0, c > 0, r > 0 else { return (80, 24) }
    return (Int(c), Int(r))
  }

  /// The next key pressed within `timeout`, or nil.
  public func key(within timeout: Duration) -> UInt8? {
    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    let ms = Int32(
      clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds
        / 1_000_000_000_000_000)
    guard poll(&p, 1, ms) == 1 else { return nil }
    var byte: UInt8 = 0
    return Glibc.read(fd, &byte, 1) == 1 ? byte : nil
  }

  /// Draws `lines` from the top-left corner, each cut to the width and cleared to its end,
  /// and clears what is below: a redraw in place, without flicker.
  public func draw(_ lines: [String]) {
    let (columns, rows) = size
    var out = "\u{1B}[H"
    for line in lines.prefix(rows) {
      out += String(line.prefix(columns)) + "\u{1B}[K\r\n"
    }
    out += "\u{1B}[J"
    Terminal.write(out)
  }

  static func write(_ text: String) {
    var bytes = Array(text.utf8)
    var off = 0
    while off < bytes.count {
      let n = bytes.withUnsafeMutableBytes { Glibc.write(1, $0.baseAddress! + off, $0.count - off) }
      if n < 0, errno == EINTR { continue }
      guard n > 0 else { return }
      off += n
    }
  }
}
