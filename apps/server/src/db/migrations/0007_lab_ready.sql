ALTER TABLE "labs" ADD COLUMN "ready_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "platform_samples" ADD COLUMN "ready_p50_seconds" double precision;--> statement-breakpoint
ALTER TABLE "platform_samples" ADD COLUMN "ready_p95_seconds" double precision;