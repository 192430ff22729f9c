import DroverCore
import DroverSystem
import DroverWire
import Testing

@testable import DroverSupervisor

@Suite struct EventBusTests {
  static func event(_ n: Int64, type: String = "email") -> LifecycleEvent {
    LifecycleEvent(
      at: Timestamp(micros: 1_800_000_000_000_000 + n),
      .dead(id: n, type: type, attempt: 1, pool: "p", workerPID: 7, error: "boom"))
  }

  @Test func subscribersGetEventsInOrder() {
    let bus = EventBus()
    let (sub, replayed) = bus.subscribe()
    #expect(replayed == 0)
    bus.publish((1...3).map { Self.event($0) })
    bus.publish([Self.event(4)])
    var got: [LifecycleEvent] = []
    while got.count < 4 {
      let batch = sub.next(timeout: .seconds(5))
      if batch.isEmpty { break }
      got += batch
    }
    #expect(got == (1...4).map { Self.event($0) })
  }

  /// A full subscriber loses the newest events past its capacity, never blocks `publish`, and
  /// hears how many it lost before the events it still gets.
  @Test func aFullSubscriberLosesEventsAndIsToldHowMany() {
    let bus = EventBus()
    let (slow, _) = bus.subscribe(capacity: 10)
    let (fast, _) = bus.subscribe(capacity: 1000)
    bus.publish((1...25).map { Self.event($0) })
    let got = slow.next(timeout: .seconds(5))
    #expect(got.first?.kind == .lost(count: 15))
    #expect(Array(got.dropFirst()) == (1...10).map { Self.event($0) })
    // The other subscriber lost nothing.
    #expect(fast.next(timeout: .seconds(5)) == (1...25).map { Self.event($0) })
    // After catching up, nothing more is reported lost.
    bus.publish([Self.event(26)])
    #expect(slow.next(timeout: .seconds(5)) == [Self.event(26)])
  }

  @Test func replayStartsWithTheRecentHistoryFiltered() {
    let bus = EventBus(historyLimit: 5)
    bus.publish((1...8).map { Self.event($0, type: $0 % 2 == 0 ? "even" : "odd") })
    let (all, n) = bus.subscribe(replay: true)
    #expect(n == 5)
    #expect(
      all.next(timeout: .seconds(5)).map(\.kind)
        == (4...8).map { Self.event($0, type: $0 % 2 == 0 ? "even" : "odd").kind })
    let (evens, m) = bus.subscribe(replay: true) { $0.jobType == "even" }
    #expect(m == 3)
    #expect(
      evens.next(timeout: .seconds(5)).compactMap { e -> JobID? in
        if case .dead(let id, _, _, _, _, _) = e.kind { return id }
        return nil
      } == [4, 6, 8])
  }

  /// Routine events (every job's start and completion) go to live subscribers only.
  @Test func routineEventsAreNotKeptForReplay() {
    let bus = EventBus()
    let (live, _) = bus.subscribe()
    let at = Timestamp(micros: 1_800_000_000_000_000)
    let routine = LifecycleEvent(
      at: at, .completed(id: 1, type: "t", attempt: 1, pool: "p", workerPID: 7))
    bus.publish([routine, Self.event(2)])
    #expect(live.next(timeout: .seconds(5)) == [routine, Self.event(2)])
    let (late, n) = bus.subscribe(replay: true)
    #expect(n == 1)
    #expect(late.next(timeout: .seconds(5)) == [Self.event(2)])
  }

  @Test func closedSubscribersAreForgottenAndWaitingReadersReturn() {
    let bus = EventBus()
    let (sub, _) = bus.subscribe()
    #expect(bus.subscriberCount == 1)
    sub.close()
    #expect(sub.next(timeout: .seconds(5)).isEmpty)
    bus.publish([Self.event(1)])
    #expect(bus.subscriberCount == 0)
  }

  @Test func nextTimesOutWhenNothingComes() {
    let (sub, _) = EventBus().subscribe()
    #expect(sub.next(timeout: .milliseconds(20)).isEmpty)
  }
}

@Suite struct MailboxTests {
  /// Posts from many threads all arrive, in each thread's order, and wake the eventfd.
  @Test func postsFromOtherThreadsArriveInOrder() throws {
    let box = try Mailbox()
    let threads = 4
    let per = 500
    let done = Monitor()
    nonisolated(unsafe) var finished = 0
    for t in 0..<threads {
      startThread {
        for i in 0..<per { box.post(.readDone(token: t * 10_000 + i, .done)) }
        done.locked {
          finished += 1
          done.broadcast()
        }
      }
    }
    done.locked { while finished < threads { done.wait() } }
    let items = box.take()
    #expect(items.count == threads * per)
    var last: [Int: Int] = [:]
    for case .readDone(let token, _) in items {
      let (t, i) = token.quotientAndRemainder(dividingBy: 10_000)
      #expect(i == (last[t].map { $0 + 1 } ?? 0), "thread \(t) out of order")
      last[t] = i
    }
    #expect(box.take().isEmpty)
  }
}
