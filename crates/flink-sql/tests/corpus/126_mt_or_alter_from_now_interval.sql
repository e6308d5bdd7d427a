-- FROM_NOW with an interval, after WITH options (lower-case keywords).
-- kind: CREATE_MATERIALIZED_TABLE
-- creates: recent_orders
-- writes: recent_orders
-- reads: orders
-- drops:
-- alters:
-- stateful:
-- key:
-- options: scan.bounded.mode=unbounded
-- materialized: or-alter
-- start-mode: FROM_NOW(INTERVAL '1' HOUR)
create or alter materialized table recent_orders
with ('scan.bounded.mode' = 'unbounded')
start_mode = from_now(interval '1' hour)
as select * from orders;
