"""Code shared by the producer and the consumer: settings, database, cron, queue contract."""
