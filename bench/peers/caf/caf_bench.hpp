// bench/peers/caf/caf_bench.hpp — helpers shared by the CAF peers: the
// actor system configuration (2 scheduler threads, as the C runtime's 2
// schedulers and the BEAM's +S 2:2), a monotonic clock, the RESULT line
// format scripts/bench.sh parses, checks that fail the run, process CPU
// time, and the generator bench_util.h uses for random picks.
#ifndef FOUNDATION_BENCH_CAF_BENCH_HPP
#define FOUNDATION_BENCH_CAF_BENCH_HPP

#include <caf/all.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace bench {

// Both sides of every comparison run on 2 scheduler threads.  Everything
// else is CAF's default (work-stealing scheduler, its default throughput
// per resume), which is how a CAF program runs unless it is tuned.
struct config : caf::actor_system_config {
  config() {
    set("scheduler.max-threads", 2);
  }
};

inline uint64_t now_ns() {
  using namespace std::chrono;
  return static_cast<uint64_t>(
    duration_cast<nanoseconds>(steady_clock::now().time_since_epoch())
      .count());
}

// One machine-readable result line, flushed at once.
inline void result(const char* name, double value, const char* unit) {
  std::printf("RESULT name=%s value=%.3f unit=%s\n", name, value, unit);
  std::fflush(stdout);
}

// A broken benchmark invariant: the run prints no figure for it.
inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "caf bench: check failed: %s\n", what);
    std::exit(1);
  }
}

// The CPU time (user + system) of the whole process, every thread.
inline uint64_t cpu_ns() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const struct timeval& t) {
    return static_cast<uint64_t>(t.tv_sec) * 1000000000u
           + static_cast<uint64_t>(t.tv_usec) * 1000u;
  };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

// Waits (bounded, 30 s) until only the `keep` actors still run (the
// scoped main actor counts as one), so that one run's dying actors do not
// overlap the next run.
inline void wait_quiescent(caf::actor_system& sys, size_t keep) {
  uint64_t deadline = now_ns() + UINT64_C(30000000000);
  while (sys.registry().running() > keep) {
    check(now_ns() < deadline, "waiting for actors to exit");
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

// xorshift64*, as bench_util.h's bench_rand.
inline uint64_t rand64(uint64_t& s) {
  s ^= s >> 12;
  s ^= s << 25;
  s ^= s >> 27;
  return s * UINT64_C(2685821657736338717);
}

// A uniform index in [0, n), as bench_rand_below.
inline uint32_t rand_below(uint64_t& s, uint32_t n) {
  return static_cast<uint32_t>(((rand64(s) >> 32) * n) >> 32);
}

} // namespace bench

#endif // FOUNDATION_BENCH_CAF_BENCH_HPP
