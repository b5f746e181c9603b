CREATE TABLE "platform_samples" (
	"sampled_at" timestamp with time zone PRIMARY KEY NOT NULL,
	"labs" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"vms_running" integer NOT NULL,
	"vms_total" integer NOT NULL,
	"vm_cpus" integer NOT NULL,
	"vm_memory_mib" integer NOT NULL,
	"host_cpus" integer NOT NULL,
	"host_memory_mib" integer NOT NULL,
	"provisions" integer NOT NULL,
	"provision_failures" integer NOT NULL,
	"provision_p50_seconds" double precision,
	"provision_p95_seconds" double precision
);
