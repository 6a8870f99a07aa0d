# bench/peers/supervisor.exs — the BEAM side of bench/bench_supervisor.c
# (SUP-P1): restart latency of an OTP supervisor, printing
# `RESULT name=... value=... unit=...` lines in the same format.
#
# Run: elixir --erl "+S 2:2" bench/peers/supervisor.exs restart
#
# The same workload as the C side: a one_for_one Supervisor with one
# permanent worker (the lightest OTP-compliant one: a spawn_link'ed
# process, no GenServer).  The worker's start function tells the driver
# its pid ({:ready, pid}); the driver kills it with Process.exit(pid,
# :kill), waits for the replacement's :ready, pings it and waits for the
# reply.  Restarts in rounds of 100, a fresh supervisor per round
# (max_restarts 1000 in 1 s), so the supervisor's list of restart times
# stays short; starting and stopping supervisors is not timed.  All work
# runs inside compiled module functions.

defmodule Bench.Supervisor.Worker do
  def child_spec(driver) do
    %{
      id: :w,
      start: {__MODULE__, :start_link, [driver]},
      restart: :permanent,
      shutdown: :brutal_kill,
      type: :worker
    }
  end

  def start_link(driver) do
    pid = spawn_link(fn -> loop() end)
    send(driver, {:ready, pid})
    {:ok, pid}
  end

  defp loop do
    receive do
      {:ping, from} ->
        send(from, :pong)
        loop()
    end
  end
end

defmodule Bench.Supervisor do
  @rounds 100
  @per_round 100

  def result(name, value, unit) do
    v = if is_float(value), do: :erlang.float_to_binary(value, decimals: 3), else: Integer.to_string(value)
    IO.puts("RESULT name=#{name} value=#{v} unit=#{unit}")
  end

  defp now_ns, do: :erlang.monotonic_time(:nanosecond)

  defp ready do
    receive do
      {:ready, pid} -> pid
    after
      5000 ->
        IO.puts(:stderr, "restart: no worker became ready")
        System.halt(1)
    end
  end

  # One restart: kill, wait for the replacement, ping it.
  defp restarts(_w, 0, acc), do: {:ok, acc}

  defp restarts(w, left, acc) do
    t0 = now_ns()
    Process.exit(w, :kill)
    next = ready()

    if next == w do
      IO.puts(:stderr, "restart: the same pid again")
      System.halt(1)
    end

    send(next, {:ping, self()})

    receive do
      :pong -> :ok
    after
      5000 ->
        IO.puts(:stderr, "restart: no pong")
        System.halt(1)
    end

    restarts(next, left - 1, [now_ns() - t0 | acc])
  end

  defp round do
    {:ok, sup} =
      Supervisor.start_link([{Bench.Supervisor.Worker, self()}],
        strategy: :one_for_one,
        max_restarts: 1000,
        max_seconds: 1
      )

    w = ready()
    t0 = now_ns()
    {:ok, lat} = restarts(w, @per_round, [])
    timed = now_ns() - t0
    Supervisor.stop(sup)
    {lat, timed}
  end

  defp pct(sorted, p) do
    n = tuple_size(sorted)
    elem(sorted, min(n - 1, div(n * p, 100)))
  end

  def run_restart do
    {lats, times} = Enum.unzip(for _ <- 1..@rounds, do: round())
    sorted = lats |> List.flatten() |> Enum.sort() |> List.to_tuple()
    n = tuple_size(sorted)
    result("sup_restart_rate", n / (Enum.sum(times) / 1.0e9), "restart/s")
    result("sup_restart_p50", pct(sorted, 50) / 1000.0, "us")
    result("sup_restart_p99", pct(sorted, 99) / 1000.0, "us")
  end

  def main(["restart"]), do: run_restart()

  def main(_) do
    IO.puts(:stderr, "usage: supervisor.exs restart")
    System.halt(2)
  end
end

Bench.Supervisor.main(System.argv())
