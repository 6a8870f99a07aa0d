# bench/peers/runtime.exs — the BEAM side of bench/bench_runtime.c: the same
# process workloads (skynet, ping-pong, many-to-one, idle process memory and
# idle CPU),
# printing `RESULT name=... value=... unit=...` lines in the same format.
#
# Run: elixir --erl "+S 2:2 +P 4000000" bench/peers/runtime.exs <workload>
# Everything runs inside compiled module functions (never in the evaluated
# script body), so the figures are the BEAM's compiled speed.

defmodule Bench.Runtime do
  @skynet_size 1_000_000
  @skynet_expect 499_999_500_000
  # 1 + 10 + 100 + ... + 1_000_000 processes.
  @skynet_procs 1_111_111

  def result(name, value, unit) do
    v = if is_float(value), do: :erlang.float_to_binary(value, decimals: 3), else: Integer.to_string(value)
    IO.puts("RESULT name=#{name} value=#{v} unit=#{unit}")
  end

  defp now_ns, do: :erlang.monotonic_time(:nanosecond)

  # ---- skynet ----------------------------------------------------------

  # A node either replies its number (a leaf) or spawns ten children,
  # sums their replies and sends the sum to its parent.
  def skynet(parent, num, 1), do: send(parent, num)

  def skynet(parent, num, size) do
    me = self()
    sub = div(size, 10)
    spawn_children(me, num, sub, 0)
    send(parent, collect(10, 0))
  end

  defp spawn_children(_me, _num, _sub, 10), do: :ok

  defp spawn_children(me, num, sub, i) do
    spawn(fn -> skynet(me, num + i * sub, sub) end)
    spawn_children(me, num, sub, i + 1)
  end

  defp collect(0, acc), do: acc
  defp collect(n, acc), do: receive(do: (x -> collect(n - 1, acc + x)))

  def run_skynet(runs) do
    times =
      for _ <- 1..runs do
        me = self()
        t0 = now_ns()
        spawn(fn -> skynet(me, 0, @skynet_size) end)
        sum = receive(do: (x -> x))
        t1 = now_ns()

        if sum != @skynet_expect do
          IO.puts(:stderr, "skynet: wrong sum #{sum}, expected #{@skynet_expect}")
          System.halt(1)
        end

        :erlang.garbage_collect()
        t1 - t0
      end

    best = Enum.min(times)
    result("rt_skynet_sum_ok", 1, "bool")
    result("rt_skynet_wall", best / 1.0e6, "ms")
    result("rt_skynet_rate", @skynet_procs / (best / 1.0e9), "proc/s")
  end

  # ---- ping-pong -------------------------------------------------------

  defp pong do
    receive do
      {:ping, from} ->
        send(from, :pong)
        pong()

      :stop ->
        :ok
    end
  end

  defp ping(_peer, 0), do: :ok

  defp ping(peer, n) do
    send(peer, {:ping, self()})
    receive(do: (:pong -> ping(peer, n - 1)))
  end

  def run_pingpong(n, runs) do
    times =
      for _ <- 1..runs do
        me = self()
        peer = spawn(fn -> pong() end)

        pinger =
          spawn(fn ->
            receive(do: (:go -> :ok))
            t0 = now_ns()
            ping(peer, n)
            send(me, {:done, now_ns() - t0})
          end)

        send(pinger, :go)
        dt = receive(do: ({:done, dt} -> dt))
        send(peer, :stop)
        dt
      end

    best = Enum.min(times)
    result("rt_pingpong_rate", n / (best / 1.0e9), "roundtrip/s")
  end

  # ---- many-to-one -----------------------------------------------------

  defp sink(0, parent), do: send(parent, :sink_done)
  defp sink(left, parent), do: receive(do: (_ -> sink(left - 1, parent)))

  defp blast(_to, 0), do: :ok

  defp blast(to, m) do
    send(to, :msg)
    blast(to, m - 1)
  end

  def run_many_to_one(k, m, runs) do
    times =
      for _ <- 1..runs do
        me = self()

        receiver =
          spawn(fn ->
            receive(do: (:go -> :ok))
            sink(k * m, me)
          end)

        senders =
          for _ <- 1..k do
            spawn(fn ->
              receive(do: (:go -> :ok))
              blast(receiver, m)
            end)
          end

        t0 = now_ns()
        send(receiver, :go)
        Enum.each(senders, &send(&1, :go))
        receive(do: (:sink_done -> :ok))
        now_ns() - t0
      end

    best = Enum.min(times)
    result("rt_many_to_one_rate", k * m / (best / 1.0e9), "msg/s")
  end

  # ---- idle process memory ---------------------------------------------

  defp vm_rss_bytes do
    {:ok, status} = File.read("/proc/self/status")
    [_, kb] = Regex.run(~r/VmRSS:\s+(\d+) kB/, status)
    String.to_integer(kb) * 1024
  end

  defp idle, do: receive(do: (:stop -> :ok))

  def run_idle(n) do
    :erlang.garbage_collect()
    rss0 = vm_rss_bytes()
    mem0 = :erlang.memory(:processes)
    pids = for _ <- 1..n, do: spawn(fn -> idle() end)
    # Let every process reach its receive before measuring.
    Enum.each(pids, fn p -> wait_waiting(p) end)
    mem1 = :erlang.memory(:processes)
    rss1 = vm_rss_bytes()
    {:memory, one} = Process.info(hd(pids), :memory)
    result("rt_idle_bytes_rss", (rss1 - rss0) / n, "B/proc")
    result("rt_idle_bytes_heap", (mem1 - mem0) / n, "B/proc")
    result("rt_idle_bytes_info", one, "B/proc")
    Enum.each(pids, &send(&1, :stop))
    idle_cpu()
  end

  # The CPU an idle VM burns, measured as the C side does (RT-P8): a few
  # idle processes and a timer an hour away, left to settle, then the CPU
  # time of the whole OS process over 2 s of wall time while main waits in
  # receive.  :erlang.statistics(:runtime) sums the CPU time of every
  # thread of the runtime system (ms); /proc/self/stat is the cross check
  # (clock ticks).  The BEAM's schedulers busy-wait a little before they
  # sleep (+sbwt, default medium); here they run with the defaults.
  defp proc_stat_cpu_ns do
    {:ok, stat} = File.read("/proc/self/stat")
    [_, rest] = String.split(stat, ") ", parts: 2)
    fields = String.split(rest)
    utime = String.to_integer(Enum.at(fields, 11))
    stime = String.to_integer(Enum.at(fields, 12))
    # USER_HZ is 100 on Linux.
    (utime + stime) * 10_000_000
  end

  defp idle_cpu do
    pids = for _ <- 1..4, do: spawn(fn -> idle() end)
    Process.send_after(hd(pids), :stop, 3_600_000)
    :erlang.garbage_collect()
    receive do
    after
      500 -> :ok
    end

    {r0, _} = :erlang.statistics(:runtime)
    s0 = proc_stat_cpu_ns()
    t0 = now_ns()

    receive do
    after
      2000 -> :ok
    end

    {r1, _} = :erlang.statistics(:runtime)
    s1 = proc_stat_cpu_ns()
    t1 = now_ns()
    result("rt_idle_cpu_pct", 100.0 * (r1 - r0) * 1.0e6 / (t1 - t0), "%")
    result("rt_idle_cpu_pct_procstat", 100.0 * (s1 - s0) / (t1 - t0), "%")
    Enum.each(pids, &send(&1, :stop))
  end

  defp wait_waiting(p) do
    case Process.info(p, :status) do
      {:status, :waiting} -> :ok
      _ -> wait_waiting(p)
    end
  end

  def main(["skynet"]), do: run_skynet(3)
  def main(["pingpong"]), do: run_pingpong(1_000_000, 3)
  def main(["many_to_one"]), do: run_many_to_one(4, 500_000, 3)
  def main(["idle"]), do: run_idle(100_000)

  def main(_) do
    IO.puts(:stderr, "usage: runtime.exs skynet|pingpong|many_to_one|idle")
    System.halt(2)
  end
end

Bench.Runtime.main(System.argv())
