import Testing

@testable import KubeRuntime

@Suite("Freed memory goes back to the system")
struct MemoryTrimmerTests {
    #if canImport(Glibc)
    @Test func glibcTrimsWhatWasFreed() {
        #expect(MemoryTrimmer.isAvailable, "malloc_trim not found in this glibc")
        // Many small blocks (below the mmap threshold, so they live in the arenas), freed
        // again: their pages are free but resident until trimmed.
        do {
            var blocks: [[UInt8]] = []
            for index in 0..<16_384 { blocks.append([UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 4_000)) }
            #expect(blocks.count == 16_384)
        }
        #expect(MemoryTrimmer.trim(), "malloc_trim released nothing after 64 MB of small blocks were freed")
    }
    #endif

    @Test func theServiceStopsWhenCancelled() async throws {
        let trimmer = MemoryTrimmer(interval: .milliseconds(10))
        let running = Task { try await trimmer.run() }
        try await Task.sleep(for: .milliseconds(50))
        running.cancel()
        try await running.value
    }
}
