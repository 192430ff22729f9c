/// The problems found so far while loading a config: the loader checks each section, each
/// pool and each of a pool's keys on its own, so that `config check` reports every problem in
/// one run instead of one per edit.
final class ConfigProblems {
  private(set) var list: [ConfigError] = []

  /// Runs `body`, recording what it throws (with the problems it carries) and going on.
  func check(_ body: () throws(ConfigError) -> Void) {
    do { try body() } catch { record(error) }
  }

  /// `body`'s value, or nil after recording what it threw.
  func value<T>(_ body: () throws(ConfigError) -> T) -> T? {
    do { return try body() } catch {
      record(error)
      return nil
    }
  }

  func record(_ error: ConfigError) {
    for e in error.all where !list.contains(e) { list.append(e) }
  }

  /// Throws the first problem, carrying the others, if there is any.
  func throwIfAny() throws(ConfigError) {
    // In file order: the one-line error names the first problem of the file.
    let sorted = list.sorted { ($0.line ?? 0) < ($1.line ?? 0) }
    guard var first = sorted.first else { return }
    first.others = Array(sorted.dropFirst())
    throw first
  }
}

extension ConfigLoader {
  /// The allowed key closest to a misspelled one (at most two edits, or a third of its
  /// length for long keys), if any.
  static func nearest(_ key: String, among allowed: [String]) -> String? {
    let limit = Swift.max(2, key.count / 3)
    var best: (String, Int)?
    for candidate in allowed {
      let d = editDistance(Array(key.utf8), Array(candidate.utf8))
      if d <= limit, d < (best?.1 ?? Int.max) { best = (candidate, d) }
    }
    return best?.0
  }

  /// Levenshtein distance, with a swap of two neighbours counting as one edit.
  static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var rows = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { rows[i][0] = i }
    for j in 0...b.count { rows[0][j] = j }
    for i in 1...a.count {
      for j in 1...b.count {
        let cost = a[i - 1] == b[j - 1] ? 0 : 1
        var d = Swift.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
        if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
          d = Swift.min(d, rows[i - 2][j - 2] + 1)
        }
        rows[i][j] = d
      }
    }
    return rows[a.count][b.count]
  }
}
