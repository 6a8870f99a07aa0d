// bench/peers/caf/savina.cpp — the CAF side of bench/bench_savina.c: the
// same Savina subset (counting, fork-join throughput, thread ring,
// chameneos, big) with the same parameters, with event-based CAF actors on
// 2 scheduler threads, printing RESULT lines in the same format.
//
// Usage: caf_savina counting|fjthrput|threadring|chameneos|big
// Every workload runs 3 times and reports its best run, timed on a
// scoped_actor (the C side's attached main thread) from the message that
// starts the work until the message that says it is done.  Every result is
// checked and a wrong one exits with status 1.
#include "caf_bench.hpp"

#include <cmath>
#include <functional>
#include <string>
#include <vector>

using namespace caf;

namespace {

using go_atom = atom_constant<atom("go")>;
using done_atom = atom_constant<atom("done")>;
using inc_atom = atom_constant<atom("inc")>;
using get_atom = atom_constant<atom("get")>;
using total_atom = atom_constant<atom("total")>;
using work_atom = atom_constant<atom("work")>;
using next_atom = atom_constant<atom("next")>;
using token_atom = atom_constant<atom("token")>;
using stop_atom = atom_constant<atom("stop")>;
using count_atom = atom_constant<atom("count")>;
using meet_atom = atom_constant<atom("meet")>;
using change_atom = atom_constant<atom("change")>;
using closed_atom = atom_constant<atom("closed")>;
using ping_atom = atom_constant<atom("ping")>;
using pong_atom = atom_constant<atom("pong")>;
using peers_atom = atom_constant<atom("peers")>;
using finished_atom = atom_constant<atom("finished")>;

constexpr int runs = 3;

// Runs fn (which returns its wall time in ns) `runs` times and reports the
// best run as a rate of ops per second and a wall time.
void best_of(actor_system& sys, const char* name, double ops,
             const char* unit, const std::function<uint64_t()>& fn) {
  uint64_t best = UINT64_MAX;
  for (int run = 0; run < runs; ++run) {
    best = std::min(best, fn());
    bench::wait_quiescent(sys, 1);
  }
  std::string metric = std::string("sv_") + name;
  bench::result((metric + "_rate").c_str(),
                ops / (static_cast<double>(best) / 1e9), unit);
  bench::result((metric + "_wall").c_str(), static_cast<double>(best) / 1e6,
                "ms");
}

// ---- counting ---------------------------------------------------------------

constexpr int64_t counting_n = 1000000;

struct counter_state {
  int64_t count = 0;
};

behavior counter(stateful_actor<counter_state>* self) {
  return {
    [=](inc_atom) { ++self->state.count; },
    [=](get_atom) {
      self->send(actor_cast<actor>(self->current_sender()), total_atom::value,
                 self->state.count);
      self->quit();
    },
  };
}

// On go sends all N increments in one handler, then get; forwards the total.
behavior producer(event_based_actor* self, actor counter, actor main) {
  return {
    [=](go_atom) {
      for (int64_t i = 0; i < counting_n; ++i)
        self->send(counter, inc_atom::value);
      self->send(counter, get_atom::value);
    },
    [=](total_atom, int64_t total) {
      self->send(main, done_atom::value, total);
      self->quit();
    },
  };
}

// Checks: RT-P6, RT-P7
void bench_counting(actor_system& sys) {
  scoped_actor main{sys};
  best_of(sys, "counting", counting_n, "msg/s", [&] {
    auto c = sys.spawn(counter);
    auto p = sys.spawn(producer, c, actor{main});
    int64_t total = 0;
    uint64_t t0 = bench::now_ns();
    main->send(p, go_atom::value);
    main->receive([&](done_atom, int64_t t) { total = t; });
    uint64_t dt = bench::now_ns() - t0;
    bench::check(total == counting_n, "counting: total == N");
    return dt;
  });
}

// ---- fork-join throughput ---------------------------------------------------

constexpr int fj_workers = 60;
constexpr int64_t fj_messages = 20000;

struct fj_state {
  int64_t count = 0;
  int64_t sum = 0;
  double acc = 0;
};

// Savina's computation is sin(37.2)^2; the angle moves with the round
// number so that no side can fold it into a constant (as the C side).
behavior fj_worker(stateful_actor<fj_state>* self, actor main) {
  return {
    [=](work_atom, int64_t round) {
      auto& st = self->state;
      double s = std::sin(37.2 + 1e-6 * static_cast<double>(round));
      st.acc += s * s;
      st.sum += round;
      if (++st.count == fj_messages) {
        self->send(main, done_atom::value, st.count, st.sum, st.acc);
        self->quit();
      }
    },
  };
}

// On go sends round r to every worker in turn, for r = 0..M-1.
behavior fj_producer(event_based_actor* self, std::vector<actor> workers) {
  return {
    [=](go_atom) {
      for (int64_t r = 0; r < fj_messages; ++r)
        for (auto& w : workers)
          self->send(w, work_atom::value, r);
      self->quit();
    },
  };
}

// Checks: RT-P6, RT-P7
void bench_fjthrput(actor_system& sys) {
  scoped_actor main{sys};
  const int64_t expect_sum = fj_messages * (fj_messages - 1) / 2;
  best_of(sys, "fjthrput", static_cast<double>(fj_workers) * fj_messages,
          "msg/s", [&] {
            std::vector<actor> workers;
            for (int k = 0; k < fj_workers; ++k)
              workers.push_back(sys.spawn(fj_worker, actor{main}));
            auto p = sys.spawn(fj_producer, workers);
            workers.clear();
            uint64_t t0 = bench::now_ns();
            main->send(p, go_atom::value);
            for (int k = 0; k < fj_workers; ++k)
              main->receive(
                [&](done_atom, int64_t count, int64_t sum, double acc) {
                  bench::check(count == fj_messages, "fjthrput: count == M");
                  bench::check(sum == expect_sum, "fjthrput: sum of rounds");
                  bench::check(acc > 0 && acc <= fj_messages,
                               "fjthrput: computation");
                });
            return bench::now_ns() - t0;
          });
}

// ---- thread ring ------------------------------------------------------------

constexpr int ring_n = 100;
constexpr int64_t ring_hops = 1000000;

struct ring_state {
  actor next;
  int64_t count = 0;
};

behavior ring_node(stateful_actor<ring_state>* self, actor main,
                   int64_t index) {
  return {
    [=](next_atom, actor next) { self->state.next = std::move(next); },
    [=](token_atom, int64_t hops) {
      ++self->state.count;
      if (hops == 0)
        self->send(main, done_atom::value, index);
      else
        self->send(self->state.next, token_atom::value, hops - 1);
    },
    [=](stop_atom) {
      self->send(main, count_atom::value, self->state.count);
      self->state.next = nullptr; // break the ring's reference cycle
      self->quit();
    },
  };
}

// Checks: RT-P6, RT-P7
void bench_threadring(actor_system& sys) {
  scoped_actor main{sys};
  best_of(sys, "threadring", ring_hops, "hop/s", [&] {
    std::vector<actor> nodes;
    for (int64_t i = 0; i < ring_n; ++i)
      nodes.push_back(sys.spawn(ring_node, actor{main}, i));
    for (int i = 0; i < ring_n; ++i)
      main->send(nodes[i], next_atom::value, nodes[(i + 1) % ring_n]);
    int64_t last = -1, total = 0;
    uint64_t t0 = bench::now_ns();
    main->send(nodes[0], token_atom::value, ring_hops);
    main->receive([&](done_atom, int64_t i) { last = i; });
    uint64_t dt = bench::now_ns() - t0;
    bench::check(last == ring_hops % ring_n, "threadring: the last holder");
    for (auto& n : nodes)
      main->send(n, stop_atom::value);
    for (int i = 0; i < ring_n; ++i)
      main->receive([&](count_atom, int64_t c) { total += c; });
    // The token is received T + 1 times: values T down to 0.
    bench::check(total == ring_hops + 1, "threadring: hop total");
    return dt;
  });
}

// ---- chameneos --------------------------------------------------------------

constexpr int cham_c = 100;
constexpr int64_t cham_m = 200000;

enum colour : int64_t { red = 0, yellow = 1, blue = 2, faded = 3 };

// Savina's colour rule: two of the same colour keep it; two different
// colours both become the third.
int64_t complement(int64_t a, int64_t b) {
  return a == b ? a : 3 - a - b;
}

void check_colour(int64_t c) {
  bench::check(c >= red && c <= blue, "chameneos: colour");
}

struct chameneo_state {
  int64_t colour = red;
  int64_t meetings = 0;
};

// meet and change carry the sender's colour and handle, since the mall
// forwards a meet to the partner.
behavior chameneo(stateful_actor<chameneo_state>* self, actor mall,
                  int64_t colour) {
  self->state.colour = colour;
  self->send(mall, meet_atom::value, colour, actor_cast<actor>(self));
  return {
    [=](meet_atom, int64_t other_colour, const actor& other) {
      check_colour(other_colour);
      auto& st = self->state;
      st.colour = complement(st.colour, other_colour);
      ++st.meetings;
      self->send(other, change_atom::value, st.colour,
                 actor_cast<actor>(self));
      self->send(mall, meet_atom::value, st.colour, actor_cast<actor>(self));
    },
    [=](change_atom, int64_t c, const actor&) {
      check_colour(c);
      self->state.colour = c;
      ++self->state.meetings;
      self->send(mall, meet_atom::value, c, actor_cast<actor>(self));
    },
    [=](closed_atom) {
      self->state.colour = faded;
      self->send(mall, count_atom::value, self->state.meetings);
      self->quit();
    },
  };
}

struct mall_state {
  int64_t left = cham_m;
  actor waiting;
  int64_t sum = 0;
  int faded = 0;
};

behavior mall(stateful_actor<mall_state>* self, actor main) {
  return {
    [=](go_atom) { // the mall creates its chameneos, as in Savina
      for (int64_t i = 0; i < cham_c; ++i)
        self->spawn(chameneo, actor_cast<actor>(self), i % 3);
    },
    [=](meet_atom, int64_t colour, const actor& who) {
      auto& st = self->state;
      if (st.left == 0)
        self->send(who, closed_atom::value);
      else if (!st.waiting)
        st.waiting = who;
      else {
        --st.left;
        self->send(st.waiting, meet_atom::value, colour, who);
        st.waiting = nullptr;
      }
    },
    [=](count_atom, int64_t n) {
      auto& st = self->state;
      st.sum += n;
      if (++st.faded == cham_c) {
        self->send(main, done_atom::value, st.sum);
        self->quit();
      }
    },
  };
}

// Checks: RT-P6, RT-P7
void bench_chameneos(actor_system& sys) {
  scoped_actor main{sys};
  best_of(sys, "chameneos", cham_m, "meeting/s", [&] {
    auto m = sys.spawn(mall, actor{main});
    int64_t sum = 0;
    uint64_t t0 = bench::now_ns();
    main->send(m, go_atom::value);
    main->receive([&](done_atom, int64_t s) { sum = s; });
    uint64_t dt = bench::now_ns() - t0;
    // Each meeting counts once for each of its two chameneos.
    bench::check(sum == 2 * cham_m, "chameneos: meetings");
    return dt;
  });
}

// ---- big --------------------------------------------------------------------

constexpr int big_n = 120;
constexpr int64_t big_p = 20000;

struct big_state {
  std::vector<actor> peers;
  int64_t pongs = 0;
  int64_t expected = -1;
  uint64_t rng = 0;
};

void big_ping(stateful_actor<big_state>* self, int64_t id) {
  auto& st = self->state;
  uint32_t target = bench::rand_below(st.rng, big_n);
  st.expected = target;
  self->send(st.peers[target], ping_atom::value, id);
}

behavior big_worker(stateful_actor<big_state>* self, actor sink, int64_t id) {
  self->state.rng = UINT64_C(0x9e3779b97f4a7c15) * static_cast<uint64_t>(id + 1);
  return {
    [=](ping_atom, int64_t) {
      self->send(actor_cast<actor>(self->current_sender()), pong_atom::value,
                 id);
    },
    [=](pong_atom, int64_t who) {
      auto& st = self->state;
      bench::check(who == st.expected, "big: pong from the pinged peer");
      if (++st.pongs == big_p)
        self->send(sink, finished_atom::value, st.pongs);
      else
        big_ping(self, id);
    },
    [=](peers_atom, std::vector<actor> peers) {
      self->state.peers = std::move(peers);
    },
    [=](go_atom) { big_ping(self, id); },
    [=](stop_atom) {
      self->state.peers.clear(); // break the reference cycles
      self->quit();
    },
  };
}

struct big_sink_state {
  int done = 0;
  int64_t pongs = 0;
};

behavior big_sink(stateful_actor<big_sink_state>* self, actor main) {
  return {
    [=](finished_atom, int64_t pongs) {
      auto& st = self->state;
      st.pongs += pongs;
      if (++st.done == big_n) {
        self->send(main, done_atom::value, st.pongs);
        self->quit();
      }
    },
  };
}

// Checks: RT-P6, RT-P7
void bench_big(actor_system& sys) {
  scoped_actor main{sys};
  // Every ping is answered by a pong: 2 N P messages.
  best_of(sys, "big", 2.0 * big_n * big_p, "msg/s", [&] {
    auto sink = sys.spawn(big_sink, actor{main});
    std::vector<actor> workers;
    for (int64_t i = 0; i < big_n; ++i)
      workers.push_back(sys.spawn(big_worker, sink, i));
    for (auto& w : workers)
      main->send(w, peers_atom::value, workers);
    int64_t pongs = 0;
    uint64_t t0 = bench::now_ns();
    for (auto& w : workers)
      main->send(w, go_atom::value);
    main->receive([&](done_atom, int64_t p) { pongs = p; });
    uint64_t dt = bench::now_ns() - t0;
    bench::check(pongs == big_n * big_p, "big: pongs received");
    for (auto& w : workers)
      main->send(w, stop_atom::value);
    return dt;
  });
}

} // namespace

int main(int argc, char** argv) {
  std::string w = argc > 1 ? argv[1] : "";
  bench::config cfg;
  actor_system sys{cfg};
  if (sys.scheduler().num_workers() != 2) {
    std::fprintf(stderr, "caf_savina: expected 2 scheduler threads\n");
    return 1;
  }
  if (w == "counting")
    bench_counting(sys);
  else if (w == "fjthrput")
    bench_fjthrput(sys);
  else if (w == "threadring")
    bench_threadring(sys);
  else if (w == "chameneos")
    bench_chameneos(sys);
  else if (w == "big")
    bench_big(sys);
  else {
    std::fprintf(stderr, "usage: caf_savina "
                         "counting|fjthrput|threadring|chameneos|big\n");
    return 2;
  }
  return 0;
}
