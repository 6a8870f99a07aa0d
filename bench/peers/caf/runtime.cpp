// bench/peers/caf/runtime.cpp — the CAF side of bench/bench_runtime.c: the
// same process workloads (skynet, ping-pong, many-to-one) and the idle
// memory and CPU measurements, with event-based CAF actors on 2 scheduler threads, printing
// `RESULT name=... value=... unit=...` lines in the same format.
//
// Usage: caf_runtime skynet|pingpong|many_to_one|idle
// The attached main thread of the C side is a scoped_actor here: it starts
// each run and waits for its result outside the actors' timed work.
#include "caf_bench.hpp"

#include <unistd.h>

using namespace caf;

namespace {

using go_atom = atom_constant<atom("go")>;
using ping_atom = atom_constant<atom("ping")>;
using pong_atom = atom_constant<atom("pong")>;
using done_atom = atom_constant<atom("done")>;
using msg_atom = atom_constant<atom("msg")>;
using tick_atom = atom_constant<atom("tick")>;

constexpr int runs = 3;

// ---- skynet ---------------------------------------------------------------

constexpr int64_t skynet_size = 1000000;
constexpr int64_t skynet_expect = INT64_C(499999500000);
constexpr double skynet_procs = 1111111; // 1 + 10 + ... + 1,000,000

struct skynet_state {
  int64_t sum = 0;
  int pending = 10;
};

// A node either sends its number to its parent (a leaf) or spawns ten
// children, sums their replies and sends the sum up.
behavior skynet(stateful_actor<skynet_state>* self, actor parent, int64_t num,
                int64_t size) {
  if (size == 1) {
    self->send(parent, num);
    self->quit();
    return {};
  }
  int64_t sub = size / 10;
  for (int64_t i = 0; i < 10; ++i)
    self->spawn(skynet, actor_cast<actor>(self), num + i * sub, sub);
  return {
    [=](int64_t v) {
      self->state.sum += v;
      if (--self->state.pending == 0) {
        self->send(parent, self->state.sum);
        self->quit();
      }
    },
  };
}

// Checks: RT-P1, RT-P7
void bench_skynet(actor_system& sys) {
  scoped_actor main{sys};
  uint64_t best = UINT64_MAX;
  for (int run = 0; run < runs; ++run) {
    int64_t sum = 0;
    uint64_t t0 = bench::now_ns();
    main->spawn(skynet, actor{main}, int64_t{0}, skynet_size);
    main->receive([&](int64_t s) { sum = s; });
    uint64_t dt = bench::now_ns() - t0;
    bench::check(sum == skynet_expect, "skynet: sum == 499999500000");
    best = std::min(best, dt);
    bench::wait_quiescent(sys, 1);
  }
  bench::result("rt_skynet_sum_ok", 1, "bool");
  bench::result("rt_skynet_wall", static_cast<double>(best) / 1e6, "ms");
  bench::result("rt_skynet_rate",
                skynet_procs / (static_cast<double>(best) / 1e9), "proc/s");
}

// ---- ping-pong ------------------------------------------------------------

constexpr int64_t pingpong_n = 1000000;

behavior ponger(event_based_actor* self) {
  return {
    [=](ping_atom) {
      self->send(actor_cast<actor>(self->current_sender()), pong_atom::value);
    },
    [=](done_atom) { self->quit(); },
  };
}

struct pinger_state {
  int64_t left = pingpong_n;
  uint64_t t0 = 0;
};

// Sends ping, waits for pong, N times; measures from its first send to its
// last reply (as the C and BEAM pingers do) and reports to main.
behavior pinger(stateful_actor<pinger_state>* self, actor peer, actor main) {
  return {
    [=](go_atom) {
      self->state.t0 = bench::now_ns();
      self->send(peer, ping_atom::value);
    },
    [=](pong_atom) {
      if (--self->state.left == 0) {
        self->send(main, done_atom::value, bench::now_ns() - self->state.t0);
        self->quit();
        return;
      }
      self->send(peer, ping_atom::value);
    },
  };
}

// Checks: RT-P2, RT-P7
void bench_pingpong(actor_system& sys) {
  scoped_actor main{sys};
  uint64_t best = UINT64_MAX;
  for (int run = 0; run < runs; ++run) {
    auto pong = sys.spawn(ponger);
    auto ping = sys.spawn(pinger, pong, actor{main});
    uint64_t dt = 0;
    main->send(ping, go_atom::value);
    main->receive([&](done_atom, uint64_t d) { dt = d; });
    best = std::min(best, dt);
    main->send(pong, done_atom::value);
    bench::wait_quiescent(sys, 1);
  }
  bench::result("rt_pingpong_rate",
                pingpong_n / (static_cast<double>(best) / 1e9),
                "roundtrip/s");
}

// ---- many-to-one ----------------------------------------------------------

constexpr int m2o_senders = 4;
constexpr int64_t m2o_per_sender = 500000;

struct sink_state {
  int64_t left = m2o_senders * m2o_per_sender;
};

// Counts messages; tells main when all have arrived.
behavior sink(stateful_actor<sink_state>* self, actor main) {
  return {
    [=](msg_atom) {
      if (--self->state.left == 0) {
        self->send(main, done_atom::value);
        self->quit();
      }
    },
  };
}

// On go, sends its whole share to the sink in one handler, then quits (as
// the C blaster and the BEAM sender loop do).
behavior blaster(event_based_actor* self, actor to) {
  return {
    [=](go_atom) {
      for (int64_t i = 0; i < m2o_per_sender; ++i)
        self->send(to, msg_atom::value);
      self->quit();
    },
  };
}

// Checks: RT-P3, RT-P7
void bench_many_to_one(actor_system& sys) {
  scoped_actor main{sys};
  uint64_t best = UINT64_MAX;
  for (int run = 0; run < runs; ++run) {
    auto s = sys.spawn(sink, actor{main});
    std::vector<actor> senders;
    for (int i = 0; i < m2o_senders; ++i)
      senders.push_back(sys.spawn(blaster, s));
    uint64_t t0 = bench::now_ns();
    for (auto& b : senders)
      main->send(b, go_atom::value);
    main->receive([](done_atom) {});
    uint64_t dt = bench::now_ns() - t0;
    best = std::min(best, dt);
    senders.clear();
    bench::wait_quiescent(sys, 1);
  }
  bench::result("rt_many_to_one_rate",
                m2o_senders * m2o_per_sender
                  / (static_cast<double>(best) / 1e9),
                "msg/s");
}

// ---- idle CPU -------------------------------------------------------------

constexpr int idle_actors = 4;
constexpr auto idle_settle = std::chrono::milliseconds(500);
constexpr auto idle_measure = std::chrono::seconds(2);

behavior idler(event_based_actor* self) {
  return {
    [=](tick_atom) { self->quit(); },
  };
}

constexpr int idle_n = 100000;

// Resident set size of this process in bytes (/proc/self/statm).
int64_t rss_bytes() {
  long size = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr)
    return -1;
  if (std::fscanf(f, "%ld %ld", &size, &resident) != 2)
    resident = -1;
  std::fclose(f);
  return resident < 0 ? -1 : int64_t{resident} * sysconf(_SC_PAGESIZE);
}

// Bytes per idle actor: the RSS growth over 100,000 spawns (as the C
// side's RSS figure), once every actor has run its initialisation.
// Checks: RT-P4
void idle_memory(actor_system& sys) {
  std::vector<actor> idle;
  idle.reserve(idle_n);
  int64_t rss0 = rss_bytes();
  for (int i = 0; i < idle_n; ++i)
    idle.push_back(sys.spawn(idler));
  bench::check(sys.registry().running() >= idle_n + 1u, "idle: all spawned");
  std::this_thread::sleep_for(idle_settle);
  int64_t rss1 = rss_bytes();
  bench::result("rt_idle_bytes_rss",
                static_cast<double>(rss1 - rss0) / idle_n, "B/proc");
  for (auto& a : idle)
    anon_send_exit(a, exit_reason::user_shutdown);
  idle.clear();
  bench::wait_quiescent(sys, 1);
}

// A few idle actors and a timer an hour away; the CPU time of the whole
// process over 2 s of wall time while main sleeps.
// Checks: RT-P8
void bench_idle(actor_system& sys) {
  scoped_actor main{sys};
  idle_memory(sys);
  std::vector<actor> idle;
  for (int i = 0; i < idle_actors; ++i)
    idle.push_back(sys.spawn(idler));
  main->delayed_send(idle[0], std::chrono::hours(1), tick_atom::value);
  std::this_thread::sleep_for(idle_settle);
  uint64_t c0 = bench::cpu_ns(), t0 = bench::now_ns();
  std::this_thread::sleep_for(idle_measure);
  uint64_t c1 = bench::cpu_ns(), t1 = bench::now_ns();
  bench::result("rt_idle_cpu_pct",
                100.0 * static_cast<double>(c1 - c0)
                  / static_cast<double>(t1 - t0),
                "%");
  for (auto& a : idle)
    anon_send_exit(a, exit_reason::user_shutdown);
}

} // namespace

int main(int argc, char** argv) {
  std::string w = argc > 1 ? argv[1] : "";
  bench::config cfg;
  actor_system sys{cfg};
  if (sys.scheduler().num_workers() != 2) {
    std::fprintf(stderr, "caf_runtime: expected 2 scheduler threads\n");
    return 1;
  }
  if (w == "skynet")
    bench_skynet(sys);
  else if (w == "pingpong")
    bench_pingpong(sys);
  else if (w == "many_to_one")
    bench_many_to_one(sys);
  else if (w == "idle")
    bench_idle(sys);
  else {
    std::fprintf(stderr, "usage: caf_runtime skynet|pingpong|many_to_one|idle\n");
    return 2;
  }
  return 0;
}
