CREATE TABLE "hosts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"address" text,
	"cpus" integer NOT NULL,
	"memory_mib" integer NOT NULL,
	"disk_bytes" bigint DEFAULT 0 NOT NULL,
	"accelerator" text NOT NULL,
	"driver" text NOT NULL,
	"state" text DEFAULT 'up' NOT NULL,
	"drained" boolean DEFAULT false NOT NULL,
	"last_heartbeat_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "hosts_state_check" CHECK ("hosts"."state" in ('up', 'draining', 'down')),
	CONSTRAINT "hosts_accelerator_check" CHECK ("hosts"."accelerator" in ('kvm', 'tcg', 'hardware', 'none')),
	CONSTRAINT "hosts_driver_check" CHECK ("hosts"."driver" in ('qemu', 'virtualbox', 'fake'))
);
--> statement-breakpoint
ALTER TABLE "labs" ADD COLUMN "host_id" uuid;--> statement-breakpoint
ALTER TABLE "vms" ADD COLUMN "host_id" uuid;--> statement-breakpoint
CREATE UNIQUE INDEX "hosts_name_key" ON "hosts" USING btree ("name");--> statement-breakpoint
ALTER TABLE "labs" ADD CONSTRAINT "labs_host_id_hosts_id_fk" FOREIGN KEY ("host_id") REFERENCES "public"."hosts"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vms" ADD CONSTRAINT "vms_host_id_hosts_id_fk" FOREIGN KEY ("host_id") REFERENCES "public"."hosts"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "labs_host_idx" ON "labs" USING btree ("host_id");