"""Turns released, sealed answers into statistics and reports (pandas, matplotlib), with
disclosure control over the unit tree; never touches Telegram. Built by the aggregation issue."""
