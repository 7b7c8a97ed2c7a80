/// Receives a ``WorkQueue``'s metrics as they happen.
///
/// Each method matches one of client-go's work-queue metrics, labelled `name` with the queue's
/// name. The queue calls them synchronously from inside the actor, so keep them cheap and
/// non-blocking (increment a counter, set a gauge, record into a histogram).
public protocol WorkQueueObserver: Sendable {
    /// A key got a new slot in the queue (`workqueue_adds_total`). Adds that merge into a slot
    /// the key already has are not counted, as in client-go.
    func added(queue: String)
    /// The number of waiting keys changed (`workqueue_depth`).
    func depth(queue: String, _ depth: Int)
    /// A key was handed to a worker `duration` after it became due
    /// (`workqueue_queue_duration_seconds`).
    func queueLatency(queue: String, _ duration: Duration)
    /// A worker called `done` `duration` after the key was handed to it
    /// (`workqueue_work_duration_seconds`).
    func workDuration(queue: String, _ duration: Duration)
    /// A key was re-added through the rate limiter (`workqueue_retries_total`).
    func retried(queue: String)
}
