# bench/peers/registry.exs — the BEAM side of bench/bench_registry.c: the same
# registry workloads on Elixir's Registry (keys: :unique), printing
# `RESULT name=... value=... unit=...` lines in the same format.
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

  def run_lookup(n, per_proc, nprocs) do
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

    result("reg_lookup_rate_2t", per_proc * nprocs / (dt / 1.0e9), "lookup/s")
    send(owner, :stop)
  end

  # ---- registrations from 2 processes ----------------------------------

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

  def main(["lookup"]), do: run_lookup(100_000, 2_000_000, 2)
  def main(["register"]), do: run_register(100_000, 2, 3)
  def main(["cleanup"]), do: run_cleanup(1000)

  def main(_) do
    IO.puts(:stderr, "usage: registry.exs lookup|register|cleanup")
    System.halt(2)
  end
end

Bench.Registry.main(System.argv())
