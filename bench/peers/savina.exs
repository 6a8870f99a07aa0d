# bench/peers/savina.exs — the BEAM side of bench/bench_savina.c: the same
# Savina subset (counting, fork-join throughput, thread ring, chameneos,
# big) with the same parameters, printing `RESULT name=... value=...
# unit=...` lines in the same format.
#
# Run: elixir --erl "+S 2:2 +P 4000000" bench/peers/savina.exs <workload>
# Everything runs inside compiled module functions (never in the evaluated
# script body).  Every workload runs 3 times and reports its best run, timed
# on the main process from the message that starts the work until the
# message that says it is done; every result is checked and a wrong one
# halts with status 1.

defmodule Bench.Savina do
  @runs 3

  @counting_n 1_000_000
  @fj_workers 60
  @fj_messages 20_000
  @ring_n 100
  @ring_hops 1_000_000
  @cham_c 100
  @cham_m 200_000
  @big_n 120
  @big_p 20_000

  def result(name, value, unit) do
    v = if is_float(value), do: :erlang.float_to_binary(value, decimals: 3), else: Integer.to_string(value)
    IO.puts("RESULT name=#{name} value=#{v} unit=#{unit}")
  end

  defp now_ns, do: :erlang.monotonic_time(:nanosecond)

  defp check(true, _what), do: :ok

  defp check(false, what) do
    IO.puts(:stderr, "savina.exs: check failed: #{what}")
    System.halt(1)
  end

  # Runs fun (which returns its wall time in ns) @runs times and reports
  # the best run as a rate of ops per second and a wall time.
  defp best_of(name, ops, unit, fun) do
    best =
      Enum.min(
        for _ <- 1..@runs do
          dt = fun.()
          :erlang.garbage_collect()
          dt
        end
      )

    result("sv_#{name}_rate", ops / (best / 1.0e9), unit)
    result("sv_#{name}_wall", best / 1.0e6, "ms")
  end

  # ---- counting ----------------------------------------------------------

  defp counter(n) do
    receive do
      :increment -> counter(n + 1)
      {:get, from} -> send(from, {:total, n})
    end
  end

  defp produce(_counter, 0), do: :ok

  defp produce(counter, n) do
    send(counter, :increment)
    produce(counter, n - 1)
  end

  def run_counting do
    best_of("counting", @counting_n, "msg/s", fn ->
      me = self()
      counter = spawn(fn -> counter(0) end)

      producer =
        spawn(fn ->
          receive(do: (:go -> :ok))
          produce(counter, @counting_n)
          send(counter, {:get, self()})
          receive(do: ({:total, t} -> send(me, {:done, t})))
        end)

      t0 = now_ns()
      send(producer, :go)
      total = receive(do: ({:done, t} -> t))
      dt = now_ns() - t0
      check(total == @counting_n, "counting: total == N")
      dt
    end)
  end

  # ---- fork-join throughput ---------------------------------------------

  # Savina's computation is sin(37.2)^2; the angle moves with the round
  # number so that no side can fold it into a constant (as in the C side).
  defp fj_worker(main, @fj_messages, sum, acc), do: send(main, {:done, @fj_messages, sum, acc})

  defp fj_worker(main, count, sum, acc) do
    receive do
      {:work, r} ->
        s = :math.sin(37.2 + 1.0e-6 * r)
        fj_worker(main, count + 1, sum + r, acc + s * s)
    end
  end

  defp fj_send_round([], _r), do: :ok

  defp fj_send_round([w | ws], r) do
    send(w, {:work, r})
    fj_send_round(ws, r)
  end

  defp fj_produce(_workers, r) when r == @fj_messages, do: :ok

  defp fj_produce(workers, r) do
    fj_send_round(workers, r)
    fj_produce(workers, r + 1)
  end

  defp fj_collect(0), do: :ok

  defp fj_collect(k) do
    expect_sum = div(@fj_messages * (@fj_messages - 1), 2)

    receive do
      {:done, count, sum, acc} ->
        check(count == @fj_messages, "fjthrput: count == M")
        check(sum == expect_sum, "fjthrput: sum of rounds")
        check(acc > 0 and acc <= @fj_messages, "fjthrput: computation")
        fj_collect(k - 1)
    end
  end

  def run_fjthrput do
    best_of("fjthrput", @fj_workers * @fj_messages, "msg/s", fn ->
      me = self()
      workers = for _ <- 1..@fj_workers, do: spawn(fn -> fj_worker(me, 0, 0, 0.0) end)

      producer =
        spawn(fn ->
          receive(do: (:go -> :ok))
          fj_produce(workers, 0)
        end)

      t0 = now_ns()
      send(producer, :go)
      fj_collect(@fj_workers)
      now_ns() - t0
    end)
  end

  # ---- thread ring --------------------------------------------------------

  defp ring_start(main, index), do: receive(do: ({:next, nxt} -> ring(main, index, nxt, 0)))

  defp ring(main, index, nxt, count) do
    receive do
      {:token, 0} ->
        send(main, {:done, index})
        ring(main, index, nxt, count + 1)

      {:token, hops} ->
        send(nxt, {:token, hops - 1})
        ring(main, index, nxt, count + 1)

      :stop ->
        send(main, {:count, count})
    end
  end

  def run_threadring do
    best_of("threadring", @ring_hops, "hop/s", fn ->
      me = self()
      pids = for i <- 0..(@ring_n - 1), do: spawn(fn -> ring_start(me, i) end)
      nexts = tl(pids) ++ [hd(pids)]
      Enum.zip(pids, nexts) |> Enum.each(fn {p, n} -> send(p, {:next, n}) end)
      t0 = now_ns()
      send(hd(pids), {:token, @ring_hops})
      last = receive(do: ({:done, i} -> i))
      dt = now_ns() - t0
      check(last == rem(@ring_hops, @ring_n), "threadring: the last holder")
      Enum.each(pids, &send(&1, :stop))
      total = Enum.reduce(pids, 0, fn _, acc -> receive(do: ({:count, c} -> acc + c)) end)
      # The token is received T + 1 times: values T down to 0.
      check(total == @ring_hops + 1, "threadring: hop total")
      dt
    end)
  end

  # ---- chameneos ----------------------------------------------------------

  # Colours 0 red, 1 yellow, 2 blue.  Savina's rule: two of the same colour
  # keep it; two different colours both become the third.
  defp complement(a, a), do: a
  defp complement(a, b), do: 3 - a - b

  defp check_colour(c), do: check(c >= 0 and c <= 2, "chameneos: colour")

  defp chameneo(mall, colour, meetings) do
    receive do
      {:meet, other_colour, other} ->
        check_colour(other_colour)
        c = complement(colour, other_colour)
        send(other, {:change, c, self()})
        send(mall, {:meet, c, self()})
        chameneo(mall, c, meetings + 1)

      {:change, c, _from} ->
        check_colour(c)
        send(mall, {:meet, c, self()})
        chameneo(mall, c, meetings + 1)

      :exit ->
        send(mall, {:count, meetings})
    end
  end

  defp mall(main, left, waiting, sum, faded) do
    receive do
      {:meet, colour, who} ->
        cond do
          left == 0 ->
            send(who, :exit)
            mall(main, left, waiting, sum, faded)

          waiting == nil ->
            mall(main, left, who, sum, faded)

          true ->
            send(waiting, {:meet, colour, who})
            mall(main, left - 1, nil, sum, faded)
        end

      {:count, n} ->
        if faded + 1 == @cham_c do
          send(main, {:done, sum + n})
        else
          mall(main, left, waiting, sum + n, faded + 1)
        end
    end
  end

  # The mall creates its chameneos, as in Savina; each asks for a meeting
  # as soon as it starts.
  defp mall_start(main) do
    receive(do: (:go -> :ok))
    me = self()

    for i <- 0..(@cham_c - 1) do
      spawn(fn ->
        send(me, {:meet, rem(i, 3), self()})
        chameneo(me, rem(i, 3), 0)
      end)
    end

    mall(main, @cham_m, nil, 0, 0)
  end

  def run_chameneos do
    best_of("chameneos", @cham_m, "meeting/s", fn ->
      me = self()
      mall = spawn(fn -> mall_start(me) end)
      t0 = now_ns()
      send(mall, :go)
      sum = receive(do: ({:done, s} -> s))
      dt = now_ns() - t0
      # Each meeting counts once for each of its two chameneos.
      check(sum == 2 * @cham_m, "chameneos: meetings")
      dt
    end)
  end

  # ---- big ----------------------------------------------------------------

  defp big_ping(id, peers, sink, pongs) do
    target = :rand.uniform(@big_n) - 1
    send(elem(peers, target), {:ping, self()})
    big(id, peers, sink, pongs, target)
  end

  defp big(id, peers, sink, pongs, expected) do
    receive do
      {:ping, from} ->
        send(from, {:pong, id})
        big(id, peers, sink, pongs, expected)

      {:pong, who} ->
        check(who == expected, "big: pong from the pinged peer")

        if pongs + 1 == @big_p do
          send(sink, {:exit, pongs + 1})
          big(id, peers, sink, pongs + 1, -1)
        else
          big_ping(id, peers, sink, pongs + 1)
        end

      :start ->
        big_ping(id, peers, sink, pongs)

      :stop ->
        :ok
    end
  end

  defp big_worker(id, sink) do
    :rand.seed(:exsss, {id + 1, 7, 13})
    receive(do: ({:peers, peers} -> big(id, peers, sink, 0, -1)))
  end

  defp big_sink(main, @big_n, pongs), do: send(main, {:done, pongs})
  defp big_sink(main, done, pongs), do: receive(do: ({:exit, p} -> big_sink(main, done + 1, pongs + p)))

  def run_big do
    # Every ping is answered by a pong: 2 N P messages.
    best_of("big", 2 * @big_n * @big_p, "msg/s", fn ->
      me = self()
      sink = spawn(fn -> big_sink(me, 0, 0) end)
      pids = for i <- 0..(@big_n - 1), do: spawn(fn -> big_worker(i, sink) end)
      peers = List.to_tuple(pids)
      Enum.each(pids, &send(&1, {:peers, peers}))
      t0 = now_ns()
      Enum.each(pids, &send(&1, :start))
      pongs = receive(do: ({:done, p} -> p))
      dt = now_ns() - t0
      check(pongs == @big_n * @big_p, "big: pongs received")
      Enum.each(pids, &send(&1, :stop))
      dt
    end)
  end

  def main(["counting"]), do: run_counting()
  def main(["fjthrput"]), do: run_fjthrput()
  def main(["threadring"]), do: run_threadring()
  def main(["chameneos"]), do: run_chameneos()
  def main(["big"]), do: run_big()

  def main(_) do
    IO.puts(:stderr, "usage: savina.exs counting|fjthrput|threadring|chameneos|big")
    System.halt(2)
  end
end

Bench.Savina.main(System.argv())
