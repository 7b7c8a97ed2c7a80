import Foundation
import Synchronization

/// Hands out loopback addresses for emulated pods: `127.0.0.2` … `127.0.255.254` (the whole of
/// 127.0.0.0/8 is loopback on Linux, so each pod gets an address of its own with no setup).
///
/// `127.0.0.1` is left to the control plane.
public final class LoopbackAddresses: Sendable {
    private struct State {
        var next: UInt32
        var free: [UInt32] = []
        var inUse: Set<UInt32> = []
    }

    private let state: Mutex<State>
    /// The last usable host part (127.0.255.254).
    private static let last: UInt32 = 0xFFFE

    /// A pool starting at `127.0.<block>.2`.
    public init(block: UInt32 = 0) {
        state = Mutex(State(next: min(block, 0xFE) << 8 | 2))
    }

    /// The process-wide pool: node agents in one process must never hand out one address twice.
    /// Its block (`127.0.<block>.x`) comes from the process id, so that two processes on one
    /// machine (a test run beside `make run`) rarely hand out the same addresses.
    public static let shared = LoopbackAddresses(block: UInt32(ProcessInfo.processInfo.processIdentifier % 200))

    /// A free address; `nil` when all are taken.
    public func take() -> String? {
        state.withLock { state -> String? in
            var value: UInt32
            if let reused = state.free.popLast() {
                value = reused
            } else {
                // Skip host parts ending in .0 and .255, which some tools read as network/broadcast.
                repeat {
                    guard state.next <= Self.last else { return nil }
                    value = state.next
                    state.next += 1
                } while value & 0xFF == 0 || value & 0xFF == 255
            }
            state.inUse.insert(value)
            return Self.text(value)
        }
    }

    /// Returns `address` for reuse.
    public func give(back address: String) {
        let parts = address.split(separator: ".").compactMap { UInt32($0) }
        guard parts.count == 4 else { return }
        let value = parts[2] << 8 | parts[3]
        state.withLock { state in
            if state.inUse.remove(value) != nil { state.free.insert(value, at: 0) }
        }
    }

    static func text(_ value: UInt32) -> String { "127.0.\(value >> 8).\(value & 0xFF)" }
}
