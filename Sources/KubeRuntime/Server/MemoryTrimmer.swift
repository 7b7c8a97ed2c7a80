#if canImport(Glibc)
import Glibc
#endif
import Logging
import ServiceLifecycle

/// Hands the memory the process has freed back to the operating system, now and then.
///
/// glibc's allocator keeps freed pages in its arenas (one per thread that allocated, up to
/// 8 × cores) and returns them only from the top of the main heap. An operator's working set
/// rises and falls with the pools it holds: after thousands of pools come and go, the live heap
/// is back where it was, yet the resident set stays near its peak (measured by `make soak`,
/// docs/testing.md). `malloc_trim(0)` releases the free pages of every arena (glibc ≥ 2.8); it
/// costs about a millisecond on a heap this size, so once a minute is free. Elsewhere (musl, the
/// static Linux SDK) it does nothing.
public struct MemoryTrimmer: Service {
    /// How often to trim; default one minute: well under the soak's settling time, far above
    /// the cost of a trim.
    public var interval: Duration
    let logger: Logger

    public init(interval: Duration = .seconds(60), logger: Logger = Logger(label: "kube.memory")) {
        self.interval = interval
        self.logger = logger
    }

    /// Trims once; returns whether any memory went back to the system (always false where
    /// `malloc_trim` does not exist).
    @discardableResult
    public static func trim() -> Bool {
        guard let mallocTrim else { return false }
        return mallocTrim(0) == 1
    }

    /// Whether this C library has `malloc_trim` (glibc does).
    public static var isAvailable: Bool { mallocTrim != nil }

    /// glibc's `int malloc_trim(size_t pad)`, looked up at run time: `<malloc.h>` is not part of
    /// Swift's Glibc module, and other C libraries lack the function.
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
        return nil
        #endif
    }()

    /// Trims every ``interval`` until the group shuts down.
    public func run() async throws {
        let interval = self.interval
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                Self.trim()
            }
        }
    }
}
