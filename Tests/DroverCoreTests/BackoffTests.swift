import Testing

@testable import DroverCore

@Suite struct BackoffTests {
  let policy = BackoffPolicy(base: .seconds(1), cap: .seconds(3600))

  @Test func ceilingDoublesFromBaseUpToCap() {
    let ceilings = (1...14).map { policy.ceiling(afterAttempt: $0) }
    #expect(
      ceilings
        == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600].map {
          Duration.seconds($0)
        })
  }

  @Test func attemptsBelowOneCountAsOne() {
    #expect(policy.ceiling(afterAttempt: 0) == .seconds(1))
    #expect(policy.ceiling(afterAttempt: -5) == .seconds(1))
    #expect(policy.ceiling(afterAttempt: .min) == .seconds(1))
  }

  @Test(arguments: [64, 65, 1000, 1 << 40, Int.max])
  func hugeAttemptsStopAtTheCap(attempt: Int) {
    #expect(policy.ceiling(afterAttempt: attempt) == .seconds(3600))
    #expect(policy.delay(afterAttempt: attempt, jitter: 0.5) == .seconds(1800))
    let huge = BackoffPolicy(base: .microseconds(3), cap: .microseconds(Int64.max))
    #expect(huge.ceiling(afterAttempt: attempt) == .microseconds(Int64.max))
    #expect(huge.delay(afterAttempt: attempt, jitter: 1) == .microseconds(Int64.max))
    #expect(huge.delay(afterAttempt: attempt, jitter: 0.999_999) <= .microseconds(Int64.max))
    // A zero base never grows, and must not loop `attempt` times finding that out.
    let zero = BackoffPolicy(base: .zero, cap: .seconds(10))
    #expect(zero.ceiling(afterAttempt: attempt) == .zero)
    #expect(zero.delay(afterAttempt: attempt, jitter: 0.9) == .zero)
  }

  @Test func baseAboveCapIsCapped() {
    let p = BackoffPolicy(base: .seconds(10), cap: .seconds(3))
    #expect(p.ceiling(afterAttempt: 1) == .seconds(3))
    #expect(p.ceiling(afterAttempt: 50) == .seconds(3))
    let negative = BackoffPolicy(base: .seconds(-1), cap: .seconds(-1))
    #expect(negative.ceiling(afterAttempt: 3) == .zero)
  }

  @Test func durationsBeyondMicrosecondRangeSaturate() {
    let p = BackoffPolicy(base: .seconds(Int64.max), cap: .seconds(Int64.max))
    #expect(p.ceiling(afterAttempt: 1) == .microseconds(Int64.max))
    #expect(p.delay(afterAttempt: 1, jitter: 1) == .microseconds(Int64.max))
  }

  @Test func delayIsJitterTimesCeiling() {
    #expect(policy.delay(afterAttempt: 3, jitter: 0) == .zero)
    #expect(policy.delay(afterAttempt: 3, jitter: 0.25) == .seconds(1))
    #expect(policy.delay(afterAttempt: 3, jitter: 0.5) == .seconds(2))
    #expect(policy.delay(afterAttempt: 1, jitter: 0.000_000_5) == .zero)  // rounds down
    #expect(policy.delay(afterAttempt: 1, jitter: 0.999_999_9) == .microseconds(999_999))
  }

  @Test(arguments: [-1.0, -.infinity, .nan, -.nan, 2.0, .infinity, .greatestFiniteMagnitude])
  func jitterOutsideTheUnitIntervalIsClamped(jitter: Double) {
    let d = policy.delay(afterAttempt: 4, jitter: jitter)
    #expect(d >= .zero)
    #expect(d <= .seconds(8))
    #expect(d == (jitter > 1 ? .seconds(8) : .zero))
  }

  @Test func delayNeverExceedsCeiling() {
    for attempt in 1...70 {
      for jitter in stride(from: 0.0, through: 1.0, by: 0.125) {
        let d = policy.delay(afterAttempt: attempt, jitter: jitter)
        #expect(d >= .zero && d <= policy.ceiling(afterAttempt: attempt))
      }
    }
  }
}

@Suite struct RetryRuleTests {
  let backoff = BackoffPolicy(base: .seconds(1), cap: .seconds(60))

  func decide(_ s: Settlement, attempts: Int = 0, maxAttempts: Int = 3, jitter: Double = 0.5)
    -> RetryRule.Decision
  {
    RetryRule.decide(
      s, attempts: attempts, maxAttempts: maxAttempts, backoff: backoff, jitter: jitter)
  }

  @Test func completedAndCancelledSettleWhateverTheBudget() {
    for attempts in [0, 2, 3, 10] {
      #expect(decide(.outcome(.completed), attempts: attempts) == .complete)
      #expect(decide(.outcome(.cancelled), attempts: attempts) == .cancel)
    }
  }

  @Test func retryableRequeuesWithBackoffWhileAttemptsRemain() {
    // Attempt 1 failed: ceiling 1s, half of it.
    #expect(
      decide(.outcome(.retryable("boom")), attempts: 0)
        == .requeue(delay: .milliseconds(500), spendsAttempt: true, error: "boom"))
    // Attempt 2 failed: ceiling 2s.
    #expect(
      decide(.outcome(.retryable("boom")), attempts: 1)
        == .requeue(delay: .seconds(1), spendsAttempt: true, error: "boom"))
    // Attempt 3 of 3 failed: out of attempts.
    #expect(decide(.outcome(.retryable("boom")), attempts: 2) == .dead(error: "boom"))
    #expect(decide(.outcome(.retryable("boom")), attempts: 7) == .dead(error: "boom"))
  }

  @Test func permanentIsDeadAtOnce() {
    #expect(decide(.outcome(.permanent("bad input")), attempts: 0) == .dead(error: "bad input"))
    #expect(
      decide(.outcome(.permanent("x")), attempts: 0, maxAttempts: 100) == .dead(error: "x"))
  }

  @Test func failedFromOutsideSpendsAnAttempt() {
    #expect(
      decide(.failed("worker 4121 exited on signal 9"), attempts: 0, jitter: 0)
        == .requeue(delay: .zero, spendsAttempt: true, error: "worker 4121 exited on signal 9"))
    #expect(decide(.failed("timed out"), attempts: 2) == .dead(error: "timed out"))
  }

  @Test func snoozeDoesNotSpendAnAttempt() {
    #expect(
      decide(.outcome(.snooze(.seconds(5))), attempts: 2)
        == .requeue(delay: .seconds(5), spendsAttempt: false, error: nil))
    #expect(
      decide(.outcome(.snooze(.seconds(-5))))
        == .requeue(delay: .zero, spendsAttempt: false, error: nil))
  }

  @Test func interruptedRequeuesAtOnceWithoutSpending() {
    // Even with the budget used up: an interruption is not the job's fault.
    #expect(
      decide(.interrupted("drain timeout"), attempts: 3)
        == .requeue(delay: .zero, spendsAttempt: false, error: "drain timeout"))
  }

  @Test func releasedGoesBackUntouched() {
    // Never started on the worker: no error, no attempt, whatever the budget.
    for attempts in [0, 3, 9] {
      #expect(
        decide(.released, attempts: attempts)
          == .requeue(delay: .zero, spendsAttempt: false, error: nil))
    }
  }

  @Test func aBudgetOfOneMeansNoRetry() {
    #expect(decide(.outcome(.retryable("x")), attempts: 0, maxAttempts: 1) == .dead(error: "x"))
    #expect(decide(.outcome(.retryable("x")), attempts: 0, maxAttempts: 0) == .dead(error: "x"))
  }
}
