# bench/peers/registry.exs — the BEAM side of bench/bench_registry.c: the same
# registry workloads on Elixir's Registry (keys: :unique, and keys: :duplicate
# for dispatch), printing `RESULT name=... value=... unit=...` lines in the
# same format.  Every figure is printed as soon as it is measured.
#
# Run: elixir --erl "+S 2:2" bench/peers/registry.exs <workload>
# Keys are binaries "k<i>", built before timing starts, as on the C side.
# All work runs inside compiled module functions.

defmodule Bench.Registry do
  @reg Bench.Reg
  @stride 7919

  def result(name, value, unit) do
    v = if is_float(value), do: :erlang.float_to_binary(value, decimals: 3), else: Integer.to_string(value)
    IO.puts("RESULT name=#{name} value=#{v} unit=#{unit}")
  end

  defp now_ns, do: :erlang.monotonic_time(:nanosecond)

  # Partitions: BENCH_PARTITIONS, else one per scheduler.
  defp partitions do
    case System.get_env("BENCH_PARTITIONS") do
      nil -> System.schedulers_online()
      v -> String.to_integer(v)
    end
  end

  defp start_registry do
    {:ok, _} = Registry.start_link(keys: :unique, name: @reg, partitions: partitions())
  end

  defp keys(n), do: List.to_tuple(for i <- 0..(n - 1), do: "k" <> Integer.to_string(i))

  # ---- lookups from 2 processes ----------------------------------------

  defp register_all(_keys, i, n) when i == n, do: :ok

  defp register_all(keys, i, n) do
    {:ok, _} = Registry.register(@reg, elem(keys, i), nil)
    register_all(keys, i + 1, n)
  end

  # Walks the keys with a fixed stride (not sequential, cheap to compute),
  # counting hits so the work cannot be skipped.
  defp lookups(_keys, _n, _idx, 0, hits), do: hits

  defp lookups(keys, n, idx, left, hits) do
    hits =
      case Registry.lookup(@reg, elem(keys, idx)) do
        [{_pid, _}] -> hits + 1
        [] -> hits
      end

    next = idx + @stride
    next = if next >= n, do: next - n, else: next
    lookups(keys, n, next, left - 1, hits)
  end

  # Lookups/s from nprocs processes walking the keys, started together.
  defp lookup_rate(ks, n, per_proc, nprocs) do
    me = self()

    workers =
      for w <- 1..nprocs do
        spawn(fn ->
          receive(do: (:go -> :ok))
          hits = lookups(ks, n, rem(w * 12345, n), per_proc, 0)
          send(me, {:done, hits})
        end)
      end

    t0 = now_ns()
    Enum.each(workers, &send(&1, :go))
    hits = for _ <- workers, do: receive(do: ({:done, h} -> h))
    dt = now_ns() - t0

    if Enum.sum(hits) != per_proc * nprocs do
      IO.puts(:stderr, "lookup: #{Enum.sum(hits)} hits, expected #{per_proc * nprocs}")
      System.halt(1)
    end

    per_proc * nprocs / (dt / 1.0e9)
  end

  # Checks: REG-P1
  def run_lookup(n, per_proc) do
    start_registry()
    ks = keys(n)
    me = self()

    owner =
      spawn(fn ->
        register_all(ks, 0, n)
        send(me, :registered)
        receive(do: (:stop -> :ok))
      end)

    receive(do: (:registered -> :ok))
    result("reg_lookup_rate_1t", lookup_rate(ks, n, per_proc, 1), "lookup/s")
    result("reg_lookup_rate_2t", lookup_rate(ks, n, per_proc, 2), "lookup/s")
    send(owner, :stop)
  end

  # ---- registrations from 2 processes ----------------------------------

  # Checks: REG-P2
  def run_register(n, nprocs, runs) do
    start_registry()
    ks = keys(n * runs)
    per = div(n, nprocs)
    me = self()

    times =
      for r <- 0..(runs - 1) do
        procs =
          for w <- 0..(nprocs - 1) do
            spawn(fn ->
              receive(do: (:go -> :ok))
              base = r * n + w * per
              register_all(ks, base, base + per)
              send(me, :done)
              receive(do: (:stop -> :ok))
            end)
          end

        t0 = now_ns()
        Enum.each(procs, &send(&1, :go))
        for _ <- procs, do: receive(do: (:done -> :ok))
        dt = now_ns() - t0

        if Registry.count(@reg) != per * nprocs do
          IO.puts(:stderr, "register: count #{Registry.count(@reg)}, expected #{per * nprocs}")
          System.halt(1)
        end

        # Stop the owners and wait for their entries to go before the next run.
        Enum.each(procs, &Process.exit(&1, :kill))
        wait_count(0)
        dt
      end

    result("reg_register_rate", n / (Enum.min(times) / 1.0e9), "reg/s")
  end

  defp wait_count(c) do
    if Registry.count(@reg) == c, do: :ok, else: wait_count(c)
  end

  # ---- dead-owner cleanup latency --------------------------------------

  defp poll_lookup(key) do
    case Registry.lookup(@reg, key) do
      [] -> now_ns()
      _ -> poll_lookup(key)
    end
  end

  defp poll_count do
    if Registry.count(@reg) == 0, do: now_ns(), else: poll_count()
  end

  defp pct(sorted, p) do
    n = tuple_size(sorted)
    elem(sorted, min(n - 1, div(n * p, 100)))
  end

  # Checks: REG-P3, REG-L1
  def run_cleanup(trials) do
    start_registry()
    me = self()

    samples =
      for i <- 1..trials do
        key = "owner" <> Integer.to_string(i)

        owner =
          spawn(fn ->
            {:ok, _} = Registry.register(@reg, key, nil)
            send(me, :registered)
            receive(do: (:never -> :ok))
          end)

        receive(do: (:registered -> :ok))
        t0 = now_ns()
        Process.exit(owner, :kill)
        # What a client sees: Registry.lookup hides dead owners itself
        # (it checks Process.alive?), so this is the first moment a lookup
        # answers "gone".
        t1 = poll_lookup(key)
        # When the entry is really removed from the table (the registry
        # partition handles the EXIT of its linked owner).
        t2 = poll_count()
        {t1 - t0, t2 - t0}
      end

    seen = samples |> Enum.map(&elem(&1, 0)) |> Enum.sort() |> List.to_tuple()
    gone = samples |> Enum.map(&elem(&1, 1)) |> Enum.sort() |> List.to_tuple()
    result("reg_cleanup_p50", pct(seen, 50) / 1000.0, "us")
    result("reg_cleanup_p99", pct(seen, 99) / 1000.0, "us")
    result("reg_cleanup_removed_p50", pct(gone, 50) / 1000.0, "us")
    result("reg_cleanup_removed_p99", pct(gone, 99) / 1000.0, "us")
  end

  # ---- dispatch to a group of 10,000 members ---------------------------

  @dreg Bench.DupReg

  # A member counts events and tells main after each `rounds` of them (one
  # run's worth), as the C side's members do.
  defp member(me, rounds, got) do
    receive do
      v when is_integer(v) ->
        got = got + 1
        if rem(got, rounds) == 0, do: send(me, :done)
        member(me, rounds, got)

      :stop ->
        :ok
    end
  end

  defp dispatch_rounds(0, lats), do: lats

  defp dispatch_rounds(left, lats) do
    t = now_ns()

    Registry.dispatch(@dreg, "topic", fn entries ->
      Enum.each(entries, fn {pid, _} -> send(pid, left) end)
    end)

    dispatch_rounds(left - 1, [now_ns() - t | lats])
  end

  defp wait_done(0), do: :ok

  defp wait_done(left) do
    receive do
      :done -> wait_done(left - 1)
    after
      60_000 ->
        IO.puts(:stderr, "dispatch: #{left} members never reported")
        System.halt(1)
    end
  end

  # Checks: REG-P5
  # members processes join "topic" of a :duplicate Registry (each
  # registers itself); a run is `rounds` back-to-back Registry.dispatch
  # calls from this process, each sending a small integer to every member,
  # and ends when every member has reported all of them.
  def run_dispatch(members, rounds, runs) do
    {:ok, _} = Registry.start_link(keys: :duplicate, name: @dreg, partitions: partitions())
    me = self()

    pids =
      for _ <- 1..members do
        spawn(fn ->
          {:ok, _} = Registry.register(@dreg, "topic", nil)
          send(me, :joined)
          member(me, rounds, 0)
        end)
      end

    for _ <- pids, do: receive(do: (:joined -> :ok))

    if Registry.count(@dreg) != members do
      IO.puts(:stderr, "dispatch: count #{Registry.count(@dreg)}, expected #{members}")
      System.halt(1)
    end

    runs =
      for _ <- 1..runs do
        t0 = now_ns()
        lats = dispatch_rounds(rounds, [])
        wait_done(members)
        {now_ns() - t0, lats}
      end

    best = runs |> Enum.map(&elem(&1, 0)) |> Enum.min()
    lats = runs |> Enum.flat_map(&elem(&1, 1)) |> Enum.sort() |> List.to_tuple()
    result("reg_dispatch_member_rate", rounds * members / (best / 1.0e9), "member/s")
    result("reg_dispatch_rate", rounds / (best / 1.0e9), "dispatch/s")
    result("reg_dispatch_p50", pct(lats, 50) / 1000.0, "us")
    result("reg_dispatch_p99", pct(lats, 99) / 1000.0, "us")
    Enum.each(pids, &send(&1, :stop))
  end

  # ---- memory per entry -------------------------------------------------

  defp register_values(_keys, i, n) when i == n, do: :ok

  defp register_values(keys, i, n) do
    {:ok, _} = Registry.register(@reg, elem(keys, i), i)
    register_values(keys, i + 1, n)
  end

  # Words held by the registry's ETS tables: those owned by its
  # supervisor (the metadata table) or by one of its partitions (a key
  # table and a pid table each).
  defp registry_ets_words do
    owners = [Process.whereis(@reg) | for({_, pid, _, _} <- Supervisor.which_children(@reg), do: pid)]

    Enum.reduce(:ets.all(), 0, fn t, acc ->
      with owner when is_pid(owner) <- :ets.info(t, :owner),
           true <- owner in owners,
           words when is_integer(words) <- :ets.info(t, :memory) do
        acc + words
      else
        _ -> acc
      end
    end)
  end

  # Checks: REG-P6
  # n unique 16-byte keys, each with the integer i as its value (an
  # immediate: it costs the tuple slot any value needs), registered by one
  # owner process.  Reported: the growth of the registry's ETS tables (:ets.info(t, :memory) words
  # times the word size) per entry, and the growth of
  # :erlang.memory(:ets) per entry as a cross check.
  def run_memory(n) do
    start_registry()
    # 16-byte keys, "k" and 15 digits, as the C side registers.
    ks = List.to_tuple(for i <- 0..(n - 1), do: "k" <> String.pad_leading(Integer.to_string(i), 15, "0"))
    me = self()
    words0 = registry_ets_words()
    ets0 = :erlang.memory(:ets)

    owner =
      spawn(fn ->
        register_values(ks, 0, n)
        send(me, :registered)
        receive(do: (:stop -> :ok))
      end)

    receive(do: (:registered -> :ok))
    words1 = registry_ets_words()
    ets1 = :erlang.memory(:ets)

    if Registry.count(@reg) != n do
      IO.puts(:stderr, "memory: count #{Registry.count(@reg)}, expected #{n}")
      System.halt(1)
    end

    result("reg_mem_total", (words1 - words0) * :erlang.system_info(:wordsize) / n, "B/entry")
    result("reg_mem_ets_alloc", (ets1 - ets0) / n, "B/entry")
    send(owner, :stop)
  end

  def main(["lookup"]), do: run_lookup(100_000, 2_000_000)
  def main(["register"]), do: run_register(100_000, 2, 3)
  def main(["dispatch"]), do: run_dispatch(10_000, 100, 3)
  def main(["cleanup"]), do: run_cleanup(1000)
  def main(["memory"]), do: run_memory(100_000)

  def main(_) do
    IO.puts(:stderr, "usage: registry.exs lookup|register|dispatch|cleanup|memory")
    System.halt(2)
  end
end

Bench.Registry.main(System.argv())
