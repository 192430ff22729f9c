public import DroverCore

extension EnqueueRequest {
  /// Each request's `after` as store parents: ids as given, refs as positions in `requests`
  /// (earlier or later). `label` names a request in errors ("line 3", "jobs[2]").
  ///
  /// - Throws: naming the request and the ref for a ref defined twice or not defined, or the
  ///   refs of a cycle ("a → b → a").
  public static func resolveParents(
    _ requests: [EnqueueRequest], label: (Int) -> String = { "job \($0 + 1)" }
  ) throws(ControlError) -> [[JobParentRef]] {
    var position: [String: Int] = [:]
    for (i, r) in requests.enumerated() {
      guard let ref = r.ref else { continue }
      if let first = position[ref] {
        throw ControlError(
          "\(label(i)): ref \"\(ref)\" is already used by \(label(first))", field: "ref")
      }
      position[ref] = i
    }
    var out: [[JobParentRef]] = []
    out.reserveCapacity(requests.count)
    for (i, r) in requests.enumerated() {
      var parents: [JobParentRef] = []
      for p in r.after {
        switch p {
        case .id(let id): parents.append(.job(id))
        case .ref(let ref):
          guard let k = position[ref] else {
            throw ControlError(
              "\(label(i)): \"after\" names ref \"\(ref)\", which no job of the batch has",
              field: "after")
          }
          guard k != i else {
            throw ControlError("\(label(i)): it waits on itself (ref \"\(ref)\")", field: "after")
          }
          parents.append(.batch(k))
        }
      }
      out.append(parents)
    }
    let graph = out.map {
      $0.compactMap { p -> Int? in if case .batch(let k) = p { k } else { nil } }
    }
    if let cycle = DependencyHold.cycle(graph) {
      throw ControlError(
        "a dependency cycle among refs: "
          + cycle.map { requests[$0].ref ?? label($0) }.joined(separator: " → "), field: "after")
    }
    return out
  }
}
