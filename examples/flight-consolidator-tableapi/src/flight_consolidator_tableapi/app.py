"""The flight consolidator, as a Table API app on Confluent Cloud for Apache Flink.

What the seeds' Lambda handler does, written the way the seeds write it: make sure the sink
table exists (`create_table` with a `ConfluentTableDescriptor` when it does not), union the two
airlines' feeds into the sink's shape, keep only complete rows, and `execute_insert` them into
the sink as one statement named `combined-flight-data-<uuid>`. The app submits its statements
and exits; Confluent Cloud runs them.

Confluent's plugin names the `create_table` statement itself (after the session's context, set
with `--context`), and spells the table there by ids while the insert spells it by the names
the app uses. `--sink-ddl sql` creates the sink with a plain `CREATE TABLE` through
`execute_sql` instead, under a name of the app's own.

Settings come from a properties file (`--properties`, the plugin's `client.*` keys) or from the
plugin's environment variables (`ORG_ID`, `ENV_ID`, `FLINK_API_KEY`, `FLINK_API_SECRET`,
`COMPUTE_POOL_ID`, `PRINCIPAL_ID`, `CLOUD_PROVIDER`, `CLOUD_REGION`, `ENDPOINT_TEMPLATE`).

It prints one JSON line naming what it submitted:
`{"sink": ..., "context": ..., "sink_created": true|false, "sink_statement": ... or null,
"insert_statement": ...}` (the plugin does not say the name of a `create_table` statement).
"""

import argparse
import json
import sys
import uuid
from functools import reduce

from pyflink.table import DataTypes, FormatDescriptor, Schema, TableEnvironment
from pyflink.table.catalog import ObjectPath
from pyflink.table.confluent import ConfluentSettings, ConfluentTableDescriptor, ConfluentTools
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


def sink_descriptor():
    """The sink table as the seeds describe it: Avro key and value, distributed by departure
    airport and flight into one bucket."""
    schema = Schema.new_builder()
    for c in SINK_COLUMNS:
        schema = schema.column(c, DataTypes.STRING())
    return (
        ConfluentTableDescriptor.for_managed()
        .schema(schema.build())
        .distributed_by_into_buckets(1, "departure_airport_code", "flight_number")
        .key_format(FormatDescriptor.for_format("avro-registry").build())
        .value_format(FormatDescriptor.for_format("avro-registry").build())
        .build()
    )


def settings(args):
    """The plugin's settings, under the app's context name."""
    builder = (
        ConfluentSettings.new_builder_from_file(args.properties)
        if args.properties
        else ConfluentSettings.new_builder()
    )
    return builder.set_context_name(args.context).build()


def airline(table, columns, name):
    """One airline's feed in the sink's shape."""
    selected = [col(src).alias(dst) for src, dst in zip(columns, SINK_COLUMNS)]
    return table.select(*selected, lit(name).alias("airline"))


def path(catalog, database, table):
    """A fully qualified name, every part backquoted (names may hold dashes)."""
    return ".".join("`" + part.replace("`", "``") + "`" for part in (catalog, database, table))


def run(args):
    env = TableEnvironment.create(settings(args))
    env.use_catalog(args.catalog)
    env.use_database(args.database)
    catalog = env.get_catalog(args.catalog)

    # The seeds' logic: create the sink table when it does not exist.
    sink_path = ObjectPath(env.get_current_database(), args.sink)
    sink_created = False
    sink_statement = None
    if not catalog.table_exists(sink_path):
        if args.sink_ddl == "descriptor":
            # The plugin submits the CREATE TABLE as a statement of its own.
            env.create_table(path(args.catalog, args.database, args.sink), sink_descriptor())
        else:
            base = f"{args.sink.replace('_', '-')}-ddl-{uuid.uuid4()}"
            env.get_config().set("client.statement-name", base)
            env.execute_sql(sink_ddl(args.sink)).wait()
            sink_statement = f"{base}-sql"
        sink_created = True

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
    # As the seeds do, by the sink's path — every part backquoted: names may hold dashes and
    # spaces, which `ObjectPath.get_full_name()` would leave bare.
    result = combined.execute_insert(path(args.catalog, args.database, args.sink))
    print(
        json.dumps(
            {
                "sink": args.sink,
                "context": args.context,
                "sink_created": sink_created,
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
    p.add_argument(
        "--context",
        default="flight-consolidator",
        help="the Table API session's context name (the plugin names its own statements after it)",
    )
    p.add_argument(
        "--sink-ddl",
        choices=["descriptor", "sql"],
        default="descriptor",
        help="create the sink with create_table and a ConfluentTableDescriptor (the seeds' way) "
        "or with a plain CREATE TABLE through execute_sql",
    )
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
