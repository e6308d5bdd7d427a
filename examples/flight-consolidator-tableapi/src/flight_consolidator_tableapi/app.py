"""The flight consolidator, as a Table API app on Confluent Cloud for Apache Flink.

What the seeds' Lambda handler does, in our own code: make sure the sink table exists (create it
when it does not), union the two airlines' feeds into the sink's shape, keep only complete rows,
and insert them into the sink as one statement named `combined-flight-data-<uuid>`. The app
submits its statements and exits; Confluent Cloud runs them.

Settings come from a properties file (`--properties`, the plugin's `client.*` keys) or from the
plugin's environment variables (`ORG_ID`, `ENV_ID`, `FLINK_API_KEY`, `FLINK_API_SECRET`,
`COMPUTE_POOL_ID`, `PRINCIPAL_ID`, `CLOUD_PROVIDER`, `CLOUD_REGION`, `ENDPOINT_TEMPLATE`).

It prints one JSON line naming the statements it submitted:
`{"sink": ..., "sink_statement": ... or null, "insert_statement": ...}`.
"""

import argparse
import json
import sys
import uuid
from functools import reduce

from pyflink.table import TableEnvironment
from pyflink.table.catalog import ObjectPath
from pyflink.table.confluent import ConfluentSettings, ConfluentTools
from pyflink.table.expressions import col, lit

# The sink's columns, in order, all STRING.
SINK_COLUMNS = [
    "email_address",
    "departure_time",
    "departure_airport_code",
    "arrival_time",
    "arrival_airport_code",
    "flight_number",
    "confirmation_code",
    "airline",
]

# Each airline's feed, in the sink's column order (the airline's name is added as a literal).
SKYONE_COLUMNS = [
    "customer_email",
    "flight_departure_time",
    "flight_departure_airport",
    "flight_arrival_time",
    "flight_arrival_airport",
    "flight_number",
    "confirmation",
]
SUNSET_COLUMNS = [
    "email_address",
    "departure_time",
    "departure_airport",
    "arrival_time",
    "arrival_airport",
    "flight_id",
    "reference_number",
]


def sink_ddl(name):
    """The sink table: keyed by departure airport and flight, Avro key and value."""
    columns = ",\n".join(f"    `{c}` STRING" for c in SINK_COLUMNS)
    return (
        f"CREATE TABLE `{name}` (\n{columns}\n)\n"
        "DISTRIBUTED BY (`departure_airport_code`, `flight_number`) INTO 1 BUCKETS\n"
        "WITH (\n"
        "    'changelog.mode' = 'append',\n"
        "    'key.format' = 'avro-registry',\n"
        "    'value.format' = 'avro-registry'\n"
        ")"
    )


def airline(table, columns, name):
    """One airline's feed in the sink's shape."""
    selected = [col(src).alias(dst) for src, dst in zip(columns, SINK_COLUMNS)]
    return table.select(*selected, lit(name).alias("airline"))


def path(catalog, database, table):
    """A fully qualified name, every part backquoted (names may hold dashes)."""
    return ".".join("`" + part.replace("`", "``") + "`" for part in (catalog, database, table))


def run(args):
    settings = (
        ConfluentSettings.from_file(args.properties)
        if args.properties
        else ConfluentSettings.from_global_variables()
    )
    env = TableEnvironment.create(settings)
    env.use_catalog(args.catalog)
    env.use_database(args.database)

    # Create the sink table when it does not exist (the seeds' logic). A plain CREATE TABLE: the
    # app knows it is creating it, and a statement that created its table owns it.
    sink_statement = None
    if not env.get_catalog(args.catalog).table_exists(ObjectPath(args.database, args.sink)):
        base = f"{args.sink.replace('_', '-')}-ddl-{uuid.uuid4()}"
        env.get_config().set("client.statement-name", base)
        env.execute_sql(sink_ddl(args.sink)).wait()
        sink_statement = f"{base}-sql"

    skyone = env.from_path(path(args.catalog, args.database, args.skyone))
    sunset = env.from_path(path(args.catalog, args.database, args.sunset))
    complete = reduce(
        lambda acc, c: acc & col(c).is_not_null,
        SINK_COLUMNS[1:],
        col(SINK_COLUMNS[0]).is_not_null,
    )
    combined = (
        airline(skyone, SKYONE_COLUMNS, "SkyOne")
        .union_all(airline(sunset, SUNSET_COLUMNS, "Sunset"))
        .filter(complete)
    )

    # A friendly name to find it by; unique in the environment, hence the uuid.
    env.get_config().set("client.statement-name", f"combined-flight-data-{uuid.uuid4()}")
    result = combined.execute_insert(path(args.catalog, args.database, args.sink))
    print(
        json.dumps(
            {
                "sink": args.sink,
                "sink_statement": sink_statement,
                "insert_statement": ConfluentTools.get_statement_name(result),
            }
        ),
        flush=True,
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--catalog", required=True, help="the environment (name or id)")
    p.add_argument("--database", required=True, help="the Kafka cluster (name or id)")
    p.add_argument("--properties", help="the plugin's settings as a properties file")
    p.add_argument("--sink", default="flight_avro")
    p.add_argument("--skyone", default="skyone_avro")
    p.add_argument("--sunset", default="sunset_avro")
    args = p.parse_args(argv)
    try:
        run(args)
    except Exception as e:  # the JVM's exceptions arrive as Py4J errors: one line to stderr
        print(f"flight consolidator failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
