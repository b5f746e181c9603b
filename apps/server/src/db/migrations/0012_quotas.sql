CREATE TABLE "quotas" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"scope" text NOT NULL,
	"subject" text NOT NULL,
	"max_labs" integer,
	"max_vcpus" integer,
	"max_memory_mib" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "quotas_scope_check" CHECK ("quotas"."scope" in ('role', 'user', 'class')),
	CONSTRAINT "quotas_limits_check" CHECK (coalesce("quotas"."max_labs", 0) >= 0 and coalesce("quotas"."max_vcpus", 0) >= 0 and coalesce("quotas"."max_memory_mib", 0) >= 0)
);
--> statement-breakpoint
CREATE UNIQUE INDEX "quotas_scope_subject_key" ON "quotas" USING btree ("scope","subject");