# pgqueuer reference figures on the same server as `drover bench pg` (README, "Several hosts"):
# single and batched enqueue, drain with K consumer processes (no-op jobs), pick-up latency at
# paced rates with 2 consumer processes. Needs `pip install pgqueuer==1.6.0 asyncpg` and the
# schema (`pgq --pg-dsn DSN install`). Usage: bench-pgqueuer.py DSN [RATES]
import asyncio, multiprocessing, os, sys, tempfile, time
import asyncpg
from pgqueuer.db import AsyncpgDriver
from pgqueuer.qm import QueueManager
from pgqueuer.queries import Queries
from pgqueuer.types import QueueExecutionMode

DSN = sys.argv[1]

async def queries():
    conn = await asyncpg.connect(DSN)
    return conn, Queries(AsyncpgDriver(conn))

async def enqueue_figures():
    conn, q = await queries()
    n = 2000
    t = time.perf_counter()
    for _ in range(n):
        await q.enqueue("work", None)
    single = n / (time.perf_counter() - t)
    total, batch = 20000, 1000
    t = time.perf_counter()
    for _ in range(total // batch):
        await q.enqueue(["work"] * batch, [None] * batch, [0] * batch)
    batched = total / (time.perf_counter() - t)
    await conn.execute("DELETE FROM pgqueuer")
    await conn.close()
    return single, batched

def consumer(latency_file=None, done=None, total=0):
    async def main():
        conn, q = await queries()
        qm = QueueManager(q)
        seen = []
        @qm.entrypoint("work")
        async def work(job):
            if latency_file:
                seen.append(time.time() - float(job.payload.decode()))
                with done.get_lock():
                    done.value += 1
        async def watch():
            # Every consumer stops once all jobs ran, whichever ran them.
            while done.value < total:
                await asyncio.sleep(0.05)
            qm.shutdown.set()
        if latency_file:
            watcher = asyncio.create_task(watch())
            await qm.run(batch_size=10, dequeue_timeout=__import__("datetime").timedelta(seconds=1))
            await watcher
            with open(latency_file, "a") as f:
                f.write("".join(f"{x}\n" for x in seen))
        else:
            await qm.run(batch_size=10, mode=QueueExecutionMode.drain)
        await conn.close()
    asyncio.run(main())

async def fill(n):
    conn, q = await queries()
    for _ in range(n // 1000):
        await q.enqueue(["work"] * 1000, [None] * 1000, [0] * 1000)
    await conn.close()

def drain(k, n):
    asyncio.run(fill(n))
    t = time.perf_counter()
    ps = [multiprocessing.Process(target=consumer) for _ in range(k)]
    for p in ps: p.start()
    for p in ps: p.join()
    return n / (time.perf_counter() - t)

def latency(rate, seconds):
    n = rate * seconds
    path = os.path.join(tempfile.gettempdir(), f"pgq-lat-{os.getpid()}.txt")
    if os.path.exists(path): os.unlink(path)
    done = multiprocessing.Value("i", 0)
    ps = [multiprocessing.Process(target=consumer, args=(path, done, n)) for _ in range(2)]
    for p in ps: p.start()
    time.sleep(2)
    async def produce():
        conn, q = await queries()
        t0 = time.perf_counter()
        sent = 0
        while sent < n:
            due = min(n, int((time.perf_counter() - t0) * rate) + 1)
            if due > sent:
                # One job per transaction unless the producer fell behind its pace (as
                # drover bench pg does): then the jobs due so far in one.
                k, now = due - sent, str(time.time()).encode()
                if k == 1: await q.enqueue("work", now)
                else: await q.enqueue(["work"] * k, [now] * k, [0] * k)
                sent = due
            else:
                await asyncio.sleep(max(0, t0 + sent / rate - time.perf_counter()))
        await conn.close()
    asyncio.run(produce())
    for p in ps: p.join(timeout=120)
    xs = sorted(float(x) * 1000 for x in open(path).read().split())
    q = lambda p: xs[min(len(xs) - 1, int(p * len(xs)))]
    return q(0.5), q(0.9), q(0.99), xs[-1], len(xs)

if __name__ == "__main__":
    single, batched = asyncio.run(enqueue_figures())
    print(f"pgqueuer enqueue, 1 per call: {single:.0f} jobs/s")
    print(f"pgqueuer enqueue, 1000 per call: {batched:.0f} jobs/s")
    for k in (1, 2, 3):
        print(f"pgqueuer drain 20000 no-op jobs, {k} consumer process(es): {drain(k, 20000):.0f} jobs/s")
    for rate in [int(r) for r in (sys.argv[2] if len(sys.argv) > 2 else "200,2000").split(",")]:
        p50, p90, p99, mx, n = latency(rate, 5)
        print(f"pgqueuer @{rate}/s pick-up p50 {p50:.2f} ms, p90 {p90:.2f} ms, p99 {p99:.2f} ms, max {mx:.1f} ms ({n} jobs)")
