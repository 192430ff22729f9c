import DroverCore

#if canImport(Glibc)
  import Glibc
#endif

/// The handlers in the stock binary, used by tests, benchmarks and the demo (CONTRACT.md).
enum BuiltinHandlers {
  static let all: [String: JobHandler] = [
    "noop": { _ in .completed },
    "sleep": sleep,
    "fail": fail,
    "crash": crash,
  ]

  /// `{"ms": N}`: sleeps N ms in 10 progress steps, cooperatively cancellable.
  static let sleep: JobHandler = { ctx in
    let ms = ctx.json["ms"]?.intValue ?? 0
    guard ms >= 0 else { return .permanent("sleep: \"ms\" must be ≥ 0") }
    let step = Duration.milliseconds(ms) / 10
    for i in 1...10 {
      if !ctx.sleep(for: step) { return .cancelled }
      ctx.progress(i * 10)
    }
    return .completed
  }

  /// `{"message": "…", "permanent": false}`.
  static let fail: JobHandler = { ctx in
    let json = ctx.json
    let message = json["message"]?.stringValue ?? "failed on purpose"
    return json["permanent"]?.boolValue == true ? .permanent(message) : .retryable(message)
  }

  /// `{"signal": 9}`: the worker kills itself with that signal mid-job.
  static let crash: JobHandler = { ctx in
    let sig = Int32(clamping: ctx.json["signal"]?.intValue ?? 9)
    raise(sig)
    // A caught or ignored signal: make sure the process still dies.
    _exit(128 + sig)
  }
}
