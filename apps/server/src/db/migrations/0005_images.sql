CREATE TABLE "images" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"source_format" text NOT NULL,
	"status" text DEFAULT 'ready' NOT NULL,
	"progress" integer DEFAULT 0 NOT NULL,
	"error" text,
	"os_family" text DEFAULT 'other' NOT NULL,
	"firmware" text DEFAULT 'bios' NOT NULL,
	"default_cpus" integer DEFAULT 1 NOT NULL,
	"default_memory_mib" integer DEFAULT 512 NOT NULL,
	"default_nics" integer,
	"config_method" text DEFAULT 'none' NOT NULL,
	"default_user" text,
	"notes" text DEFAULT '' NOT NULL,
	"files" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"size_bytes" bigint DEFAULT 0 NOT NULL,
	"virtual_size_bytes" bigint,
	"sha256" text,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "images_kind_check" CHECK ("images"."kind" in ('disk', 'iso', 'kernel')),
	CONSTRAINT "images_status_check" CHECK ("images"."status" in ('converting', 'ready', 'failed')),
	CONSTRAINT "images_firmware_check" CHECK ("images"."firmware" in ('bios', 'uefi')),
	CONSTRAINT "images_config_method_check" CHECK ("images"."config_method" in ('cloud-init', 'dhcp', 'none'))
);
--> statement-breakpoint
ALTER TABLE "vms" ADD COLUMN "credentials" jsonb;--> statement-breakpoint
ALTER TABLE "images" ADD CONSTRAINT "images_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "images_name_key" ON "images" USING btree ("name");